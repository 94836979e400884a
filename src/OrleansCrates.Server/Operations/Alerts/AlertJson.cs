using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Server.Operations.Alerts;

/// <summary>The webhook body: camel-case names (<c>event</c>, <c>component</c>, <c>node</c>, <c>at</c>, <c>detail</c>).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Alert))]
internal sealed partial class AlertJson : JsonSerializerContext;
