using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Polly.Timeout;
using OrleansCrates.Protocol;

namespace OrleansCrates.Upstream;

public sealed partial class UpstreamRegistry
{
    [LoggerMessage(EventId = LogEvents.UpstreamRegistryIndexFetched, Level = LogLevel.Debug, Message = "Fetched {Path} from {Upstream}: {Bytes} bytes in {Milliseconds:0} ms")]
    private static partial void LogIndexFetched(ILogger logger, string upstream, string path, int bytes, double milliseconds);

    [LoggerMessage(EventId = LogEvents.UpstreamRegistryAttemptFailed, Level = LogLevel.Warning, Message = "Upstream {Upstream} failed: {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, string upstream, string error);

    [LoggerMessage(EventId = LogEvents.UpstreamRegistryConfigUnavailable, Level = LogLevel.Warning, Message = "Upstream {Upstream} config.json unavailable: {Error}")]
    private static partial void LogConfigUnavailable(ILogger logger, string upstream, string error);
}
