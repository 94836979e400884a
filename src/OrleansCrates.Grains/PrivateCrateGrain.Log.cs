using Microsoft.Extensions.Logging;

namespace OrleansCrates.Grains;

internal sealed partial class PrivateCrateGrain
{
    [LoggerMessage(EventId = LogEvents.PrivateCrateGrainStorageFailed, Level = LogLevel.Error, Message = "A change to private crate {Crate} failed in storage ({Error}); the caller is told to retry")]
    private static partial void LogStorageFailed(ILogger logger, string crate, string error);
}
