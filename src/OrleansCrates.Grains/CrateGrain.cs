using Orleans.Concurrency;
using Orleans.Placement;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;

namespace OrleansCrates.Grains;

/// <summary>
/// The owner of one mirrored crate in the cluster (<see cref="CrateOwner"/> holds its state and decisions;
/// <see cref="CrateCoordinator"/> does the storage and upstream work). Reentrant so every caller joins the flights in
/// progress; the shared work never runs under a caller's cancellation, which only ends that caller's wait. Collected
/// after <c>Cluster:GrainCollection:CrateGrainAge</c> idle (5 minutes by default; <see cref="ClusterDefaults"/>): its
/// state is in storage, and a new activation checks storage first. Placed on the silo of the first caller (often the
/// one that got cargo's index request), so that silo downloads the crate's files; a client waiting on another silo
/// asks <see cref="LocateDownloadAsync"/> where the download runs and follows it from that silo's spool.
/// </summary>
[Reentrant]
[PreferLocalPlacement]
internal sealed class CrateGrain(CrateCoordinator coordinator) : Grain, ICrateGrain
{
    private CrateOwner? _owner;

    private CrateOwner Owner => _owner ??= new CrateOwner(CrateName.Parse(this.GetPrimaryKeyString()), coordinator, coordinator.Time);

    public async Task<CrateIndexReply> GetIndexAsync(TimeSpan? maxAge, CancellationToken cancellationToken)
    {
        try
        {
            var reply = CrateReplies.From(await Owner.GetIndexAsync(maxAge).WaitAsync(cancellationToken));
            return reply.State == CrateIndexState.Unavailable && coordinator.IsStopping ? Leaving(reply) : reply;
        }
        catch (OperationCanceledException) when (coordinator.IsStopping && !cancellationToken.IsCancellationRequested)
        {
            return new CrateIndexReply(CrateIndexState.OwnerUnavailable, null, default, "the crate's silo is shutting down", null);
        }
    }

    public async Task<CrateFileReply> EnsureStoredAsync(string version, CancellationToken cancellationToken)
    {
        try
        {
            var reply = CrateReplies.From(await Owner.EnsureStoredAsync(version).WaitAsync(cancellationToken));
            return reply.State != CrateFileState.Found && coordinator.IsStopping ? reply with { State = CrateFileState.OwnerUnavailable } : reply;
        }
        catch (OperationCanceledException) when (coordinator.IsStopping && !cancellationToken.IsCancellationRequested)
        {
            return new CrateFileReply(CrateFileState.OwnerUnavailable, "the crate's silo is shutting down", null, false);
        }
    }

    public async Task<DownloadLocation?> LocateDownloadAsync(string version, CancellationToken cancellationToken) =>
        CrateReplies.From(await Owner.LocateDownloadAsync(version, cancellationToken));

    /// <summary>A failure while this silo shuts down says nothing about upstream: the caller asks the next activation.</summary>
    private static CrateIndexReply Leaving(CrateIndexReply reply) => reply with { State = CrateIndexState.OwnerUnavailable };
}
