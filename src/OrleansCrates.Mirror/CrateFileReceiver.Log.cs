using Microsoft.Extensions.Logging;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

internal static partial class CrateFileReceiver
{
    [LoggerMessage(EventId = LogEvents.CrateFileReceiverBadUpstreamFile, Level = LogLevel.Error, Message = "Rejected the upstream file of {Crate} {Version}: {Reason}")]
    private static partial void LogBadUpstreamFile(ILogger logger, string crate, string version, string reason);

    [LoggerMessage(EventId = LogEvents.CrateFileReceiverStored, Level = LogLevel.Information, Message = "Stored {Crate} {Version} ({Bytes} bytes, {Status})")]
    private static partial void LogStored(ILogger logger, string crate, string version, long bytes, PutStatus status);

    [LoggerMessage(EventId = LogEvents.CrateFileReceiverStorageWriteFailed, Level = LogLevel.Warning, Message = "Could not store {Key}: {Error}")]
    private static partial void LogStorageWriteFailed(ILogger logger, string key, string error);
}
