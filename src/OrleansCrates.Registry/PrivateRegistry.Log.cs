using Microsoft.Extensions.Logging;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.PrivateRegistryCrateFileMissing, Level = LogLevel.Error, Message = "The index lists {Crate} {Version} but its file {Key} is missing from storage")]
        public static partial void CrateFileMissing(ILogger logger, string crate, string version, string key);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryUnreadableMeta, Level = LogLevel.Warning, Message = "Skipping unreadable crate metadata {Key}: {Error}")]
        public static partial void UnreadableMeta(ILogger logger, string key, string error);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryPublishRefused, Level = LogLevel.Debug, Message = "Publish of {Crate} {Version} refused: {Status} {Detail}")]
        public static partial void PublishRefused(ILogger logger, string crate, string version, int status, string detail);
    }
}
