using Microsoft.Extensions.Logging;

namespace OrleansCrates.Grains;

public sealed partial class PrivateCrateGrains
{
    [LoggerMessage(EventId = LogEvents.PrivateCrateGrainsCallFailed, Level = LogLevel.Warning, Message = "Call {Attempt} to the writer of private crate {Crate} failed ({Error}); trying again")]
    private static partial void LogCallFailed(ILogger logger, string crate, int attempt, string error);

    [LoggerMessage(EventId = LogEvents.PrivateCrateGrainsGaveUp, Level = LogLevel.Error, Message = "Gave up on the writer of private crate {Crate} after {Attempts} calls in {Seconds} s: {Error}")]
    private static partial void LogGaveUp(ILogger logger, string crate, int attempts, double seconds, string error);
}
