using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansCrates.Storage;

namespace OrleansCrates.Accounts;

public sealed partial class DownloadLogFlusher
{
    [LoggerMessage(EventId = LogEvents.DownloadLogFlusherFlushFailed, Level = LogLevel.Warning, Message = "Could not write download records ({Error}); {Pending} kept for the next attempt")]
    private static partial void LogFlushFailed(ILogger logger, int pending, string error);

    [LoggerMessage(EventId = LogEvents.DownloadLogFlusherFlushCancelled, Level = LogLevel.Warning, Message = "Shutdown ended before {Pending} download records were written")]
    private static partial void LogFlushCancelled(ILogger logger, int pending);

    [LoggerMessage(EventId = LogEvents.DownloadLogFlusherDropped, Level = LogLevel.Warning, Message = "{Dropped} download records dropped so far: too many waiting while storage could not be written")]
    private static partial void LogDropped(ILogger logger, long dropped);
}
