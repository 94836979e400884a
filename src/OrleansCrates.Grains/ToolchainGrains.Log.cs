using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCrates.Mirror;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Grains;

public sealed partial class ToolchainGrains
{
    [LoggerMessage(EventId = LogEvents.ToolchainGrainsCallFailed, Level = LogLevel.Warning, Message = "Call {Attempt} to the grain of {Path} failed ({Error}); trying again")]
    private static partial void LogCallFailed(ILogger logger, string path, int attempt, string error);

    [LoggerMessage(EventId = LogEvents.ToolchainGrainsGaveUp, Level = LogLevel.Error, Message = "Gave up on the grain of {Path} after {Attempts} calls in {Seconds} s: {Error}")]
    private static partial void LogGaveUp(ILogger logger, string path, int attempts, double seconds, string error);
}
