using Microsoft.Extensions.Logging;

namespace OrleansCrates.Mirror.Streaming;

public sealed partial class InFlightSpools
{
    [LoggerMessage(EventId = LogEvents.InFlightSpoolsLocateFailed, Level = LogLevel.Warning, Message = "Asking the owner of {Key} where it downloads failed (attempt {Attempt}: {Error}); asking again")]
    private static partial void LogLocateFailed(ILogger logger, string key, int attempt, string error);

    [LoggerMessage(EventId = LogEvents.InFlightSpoolsRelaySpoolFailed, Level = LogLevel.Warning, Message = "Could not start a relay spool for {Key} ({Error}); its requests wait for the stored file")]
    private static partial void LogRelaySpoolFailed(ILogger logger, string key, string error);
}
