using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Protocol;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

public sealed partial class UpstreamSet
{
    [LoggerMessage(EventId = LogEvents.UpstreamSetUpstreamFailed, Level = LogLevel.Warning, Message = "Upstream {Upstream} failed for {What}: {Error}")]
    private static partial void LogUpstreamFailed(ILogger logger, string upstream, string what, string error);
}
