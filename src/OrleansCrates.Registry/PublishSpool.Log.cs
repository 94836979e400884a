using Microsoft.Extensions.Logging;

namespace OrleansCrates.Registry;

public sealed partial class PublishSpool
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.PublishSpoolRemovedAbandoned, Level = LogLevel.Information, Message = "Removed the publish spool folder {Folder} of a process that is gone")]
        public static partial void RemovedAbandoned(ILogger logger, string folder);
    }
}
