using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;

namespace OrleansCrates.Grains;

public sealed partial class CrateGrains
{
    [LoggerMessage(EventId = LogEvents.CrateGrainsCallFailed, Level = LogLevel.Warning, Message = "Call {Attempt} to the grain of {Crate} failed ({Error}); trying again")]
    private static partial void LogCallFailed(ILogger logger, string crate, int attempt, string error);

    [LoggerMessage(EventId = LogEvents.CrateGrainsGaveUp, Level = LogLevel.Error, Message = "Gave up on the grain of {Crate} after {Attempts} calls in {Seconds} s: {Error}")]
    private static partial void LogGaveUp(ILogger logger, string crate, int attempts, double seconds, string error);
}
