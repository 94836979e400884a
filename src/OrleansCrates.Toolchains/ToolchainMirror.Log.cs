using Microsoft.Extensions.Logging;

namespace OrleansCrates.Toolchains;

public sealed partial class ToolchainMirror
{
    [LoggerMessage(EventId = LogEvents.ToolchainMirrorManifestStored, Level = LogLevel.Information, Message = "Stored manifest {Path} (sha256 {Sha256}, {Archives} archives)")]
    private static partial void LogManifestStored(ILogger logger, string path, string sha256, int archives);

    [LoggerMessage(EventId = LogEvents.ToolchainMirrorArchiveStored, Level = LogLevel.Information, Message = "Stored {Path} ({Bytes} bytes from {Upstream})")]
    private static partial void LogArchiveStored(ILogger logger, string path, long bytes, string upstream);

    [LoggerMessage(EventId = LogEvents.ToolchainMirrorRejected, Level = LogLevel.Error, Message = "Rejected the upstream copy of {Path}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = LogEvents.ToolchainMirrorRevalidationFailed, Level = LogLevel.Warning, Message = "Revalidating {Path} failed: {Error} (serving the stored copy: {HasCopy})")]
    private static partial void LogRevalidationFailed(ILogger logger, string path, string error, bool hasCopy);

    [LoggerMessage(EventId = LogEvents.ToolchainMirrorWriteConflict, Level = LogLevel.Warning, Message = "Another writer stored {Key} first; kept theirs")]
    private static partial void LogWriteConflict(ILogger logger, string key);

    [LoggerMessage(EventId = LogEvents.ToolchainMirrorStorageFailed, Level = LogLevel.Warning, Message = "Storage failed for {Path}: {Error}")]
    private static partial void LogStorageFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = LogEvents.ToolchainMirrorPairRefetched, Level = LogLevel.Warning, Message = "{Path} from {Upstream} has sha256 {Actual}, its .sha256 says {Published}: fetching the pair once more")]
    private static partial void LogPairRefetched(ILogger logger, string path, string actual, string published, string upstream);

    [LoggerMessage(EventId = LogEvents.ToolchainMirrorEarlierGenerationServed, Level = LogLevel.Information, Message = "Served {Path} of generation {Given} (the client's .sha256) rather than the current {Current}")]
    private static partial void LogEarlierGenerationServed(ILogger logger, string path, string given, string current);
}
