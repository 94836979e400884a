using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansCrates.Storage;

namespace OrleansCrates.Operations.Statistics;

public sealed partial class TrafficStatisticsFlusher
{
    [LoggerMessage(EventId = LogEvents.TrafficStatisticsFlusherFlushFailed, Level = LogLevel.Warning, Message = "Could not write traffic statistics ({Error}); kept for the next attempt")]
    private static partial void LogFlushFailed(ILogger logger, string error);

    [LoggerMessage(EventId = LogEvents.TrafficStatisticsFlusherFlushCancelled, Level = LogLevel.Warning, Message = "Shutdown ended before the traffic statistics were written")]
    private static partial void LogFlushCancelled(ILogger logger);
}
