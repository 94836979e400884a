using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror.Coordination;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

public sealed partial class CrateCoordinator
{
    [LoggerMessage(EventId = LogEvents.CrateCoordinatorRevalidationFailed, Level = LogLevel.Warning, Message = "Revalidating the index of {Crate} failed: {Error} (serving a stale copy: {HasCopy})")]
    private static partial void LogRevalidationFailed(ILogger logger, string crate, string error, bool hasCopy);

    [LoggerMessage(EventId = LogEvents.CrateCoordinatorStorageWriteFailed, Level = LogLevel.Warning, Message = "Could not write {Key} to storage: {Error}")]
    private static partial void LogStorageWriteFailed(ILogger logger, string key, string error);

    [LoggerMessage(EventId = LogEvents.CrateCoordinatorStorageReadFailed, Level = LogLevel.Warning, Message = "Could not read {Key} from storage: {Error}")]
    private static partial void LogStorageReadFailed(ILogger logger, string key, string error);

    [LoggerMessage(EventId = LogEvents.CrateCoordinatorIndexUnavailable, Level = LogLevel.Warning, Message = "The index of {Crate} is unavailable to this node: {Error}")]
    private static partial void LogIndexUnavailable(ILogger logger, string crate, string error);

    [LoggerMessage(EventId = LogEvents.CrateCoordinatorIndexWriteConflict, Level = LogLevel.Warning, Message = "Another writer stored the index of {Crate} first (theirs fetched {TheirsFetchedAt}); reconciled without overwriting it unseen")]
    private static partial void LogIndexWriteConflict(ILogger logger, string crate, DateTimeOffset? theirsFetchedAt);

    [LoggerMessage(EventId = LogEvents.CrateCoordinatorKeptDeletedVersions, Level = LogLevel.Warning, Message = "Upstream stopped listing {Crate} {Versions}; keeping them because this mirror holds their files")]
    private static partial void LogKeptDeletedVersions(ILogger logger, string crate, string versions);
}
