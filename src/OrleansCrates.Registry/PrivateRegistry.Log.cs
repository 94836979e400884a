using Microsoft.Extensions.Logging;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.PrivateRegistryPublished, Level = LogLevel.Information, Message = "{User} published {Crate} {Version} (sha256 {Checksum}, new crate: {Created})")]
        public static partial void Published(ILogger logger, string user, string crate, string version, string checksum, bool created);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryYankChanged, Level = LogLevel.Information, Message = "{User} set yanked={Yanked} on {Crate} {Version}")]
        public static partial void YankChanged(ILogger logger, string user, string crate, string version, bool yanked);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryOwnersChanged, Level = LogLevel.Information, Message = "{User} changed the owners of {Crate}: {Change} {Logins}")]
        public static partial void OwnersChanged(ILogger logger, string user, string crate, string change, string logins);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryTooManyConflicts, Level = LogLevel.Warning, Message = "Gave up updating {Key} after {Attempts} attempts: other writers kept changing it")]
        public static partial void TooManyConflicts(ILogger logger, string key, int attempts);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryCrateFileMissing, Level = LogLevel.Error, Message = "The index lists {Crate} {Version} but its file {Key} is missing from storage")]
        public static partial void CrateFileMissing(ILogger logger, string crate, string version, string key);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryUnreadableMeta, Level = LogLevel.Warning, Message = "Skipping unreadable crate metadata {Key}: {Error}")]
        public static partial void UnreadableMeta(ILogger logger, string key, string error);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryPublishRefused, Level = LogLevel.Debug, Message = "Publish of {Crate} {Version} refused: {Status} {Detail}")]
        public static partial void PublishRefused(ILogger logger, string crate, string version, int status, string detail);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryClaimReleased, Level = LogLevel.Information, Message = "Released the name {Crate} claimed by {User}: its first version was not committed")]
        public static partial void ClaimReleased(ILogger logger, string user, string crate);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryClaimNotReleased, Level = LogLevel.Error, Message = "Could not release the name {Crate} claimed by {User} for a publish that failed ({Error}); `verify` reports it")]
        public static partial void ClaimNotReleased(ILogger logger, string user, string crate, string error);

        [LoggerMessage(EventId = LogEvents.PrivateRegistryNameReleased, Level = LogLevel.Warning, Message = "Private name {Crate} released by an administrator: {Versions} version(s), {Files} crate file(s) deleted")]
        public static partial void NameReleased(ILogger logger, string crate, int versions, int files);
    }
}
