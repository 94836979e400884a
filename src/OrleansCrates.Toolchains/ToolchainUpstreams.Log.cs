using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Upstream;

namespace OrleansCrates.Toolchains;

public sealed partial class ToolchainUpstreams
{
    [LoggerMessage(EventId = LogEvents.ToolchainUpstreamsUpstreamFailed, Level = LogLevel.Warning, Message = "Dist server {Upstream} failed for {Path}: {Error}")]
    private static partial void LogUpstreamFailed(ILogger logger, string upstream, string path, string error);
}
