using Orleans.Concurrency;
using Orleans.Placement;
using OrleansCrates.Mirror.Coordination;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Grains;

/// <summary>
/// The owner of one toolchain file in the cluster (<see cref="ToolchainMirror.EnsureAsOwnerAsync"/> does the work).
/// Reentrant, so callers join the flight in progress; the flight never runs under a caller's cancellation. Placed on
/// the silo of the first caller, so the node that got the first request for a cold archive downloads it and streams it
/// to that request as it arrives; requests on other silos ask <see cref="LocateDownloadAsync"/> where it runs and
/// follow the download from that silo's spool.
/// </summary>
[Reentrant]
[PreferLocalPlacement]
[CollectionAgeLimit(Minutes = 5)]
internal sealed class ToolchainFileGrain(ToolchainMirror mirror) : Grain, IToolchainFileGrain
{
    // One fetch at a time, shared by every caller. SingleFlight leaves its table before it publishes the outcome, also
    // when the fetch completes synchronously (a file the filesystem store holds), so a finished fetch is never reused.
    private readonly SingleFlight<bool, ToolchainFetch> _flight = new();

    public async Task<ToolchainFileReply> EnsureStoredAsync(CancellationToken cancellationToken)
    {
        try
        {
            var fetch = await Flight().WaitAsync(cancellationToken);
            var state = fetch.Status != ToolchainFetchStatus.Stored && mirror.IsStopping ? ToolchainFileState.OwnerUnavailable : (ToolchainFileState)(int)fetch.Status;
            return new ToolchainFileReply(state, fetch.Error, fetch.RetryAfter, fetch.FromUpstream);
        }
        catch (OperationCanceledException) when (mirror.IsStopping && !cancellationToken.IsCancellationRequested)
        {
            return new ToolchainFileReply(ToolchainFileState.OwnerUnavailable, "the file's silo is shutting down", null, false);
        }
    }

    public async Task<DownloadLocation?> LocateDownloadAsync(CancellationToken cancellationToken) =>
        CrateReplies.From(await mirror.LocateDownloadAsOwnerAsync(this.GetPrimaryKeyString(), Flight(), cancellationToken));

    private Task<ToolchainFetch> Flight()
    {
        var path = this.GetPrimaryKeyString();
        return _flight.Join(true, () => mirror.EnsureAsOwnerAsync(path)).Task;
    }
}
