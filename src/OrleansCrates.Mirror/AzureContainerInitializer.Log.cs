using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

internal sealed partial class AzureContainerInitializer
{
    [LoggerMessage(EventId = LogEvents.MirrorServiceRegistrationContainerUnavailable, Level = LogLevel.Warning, Message = "Storage container {Container} is not reachable yet ({Error}); retrying in {Seconds} s")]
    private static partial void LogContainerUnavailable(ILogger logger, Uri container, string error, double seconds);
}
