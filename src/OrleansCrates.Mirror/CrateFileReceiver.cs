using Microsoft.Extensions.Logging;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

/// <summary>
/// Takes one crate file from one upstream's download into storage, verified against the index checksum
/// (<see cref="VerifiedReceiver"/>: streamed into an uncommitted upload while hashing, at most
/// <c>Mirror:MaxCrateBytes</c>, committed only if every byte arrived and the sha256 matches). Clients on this node that
/// wait for the file follow the bytes through the node's <see cref="InFlightSpools"/> as they arrive. The outcome says
/// whose failure anything else was: a transfer that broke off, stalled or dripped is the upstream's (the next one is
/// asked), bytes that are not the file are a bad file, and a write that failed (a full disk, a quota, the blob
/// service) is storage's — no upstream is blamed for it.
/// </summary>
internal static partial class CrateFileReceiver
{
    public static async Task<FetchOutcome> ReceiveAndStoreAsync(
        IObjectStore store, long maxCrateBytes, ILogger logger, CrateName name, IndexLine line, string key, UpstreamDownload download, InFlightSpools? spools, CancellationToken cancellationToken)
    {
        var received = await VerifiedReceiver.ReceiveAsync(store, key, download, line.Checksum, maxCrateBytes, "Mirror:MaxCrateBytes", spools, cancellationToken, releaseBeforeCommit: true);
        switch (received.Status)
        {
            case ReceiveStatus.Stored:
                LogStored(logger, name.Value, line.Version, received.Received, received.Committed);
                return FetchOutcome.Stored;
            case ReceiveStatus.BrokenTransfer:
                // A transfer that broke off, stalled or dripped too slowly is an upstream failure, not a bad file.
                LogBadUpstreamFile(logger, name.Value, line.Version, received.Detail!);
                return new FetchOutcome(CrateFileStatus.UpstreamUnavailable, $"transfer of {name} {line.Version}: {received.Detail}", null);
            case ReceiveStatus.StorageFailed:
                LogStorageWriteFailed(logger, key, received.Failure?.Message ?? received.Detail!);
                return FetchOutcome.StorageFailed($"{name} {line.Version} cannot be stored: {received.Detail}");
            default:
                LogBadUpstreamFile(logger, name.Value, line.Version, received.Detail!);
                return new FetchOutcome(CrateFileStatus.BadUpstreamFile, $"upstream sent a bad file for {name} {line.Version}: {received.Detail}", null);
        }
    }
}
