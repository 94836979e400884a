using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Protocol;

/// <summary>A sparse registry's <c>config.json</c>.</summary>
public sealed record RegistryConfig(
    [property: JsonPropertyName("dl")] string Dl,
    [property: JsonPropertyName("api"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Api = null,
    [property: JsonPropertyName("auth-required"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool AuthRequired = false)
{
    /// <summary>Parses config.json; null when it is not JSON or has no <c>dl</c>. Unknown keys are ignored, as cargo does.</summary>
    public static RegistryConfig? TryParse(ReadOnlySpan<byte> json)
    {
        try
        {
            var config = JsonSerializer.Deserialize(json, ProtocolJsonContext.Default.RegistryConfig);
            return string.IsNullOrWhiteSpace(config?.Dl) ? null : config;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public byte[] ToJsonBytes() => JsonSerializer.SerializeToUtf8Bytes(this, ProtocolJsonContext.Default.RegistryConfig);
}

[JsonSerializable(typeof(RegistryConfig))]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext;
