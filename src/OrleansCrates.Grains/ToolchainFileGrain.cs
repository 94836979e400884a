using Orleans.Concurrency;
using Orleans.Placement;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Grains;

/// <summary>
/// The owner of one toolchain file in the cluster (<see cref="ToolchainMirror.EnsureAsOwnerAsync"/> does the work).
/// Reentrant, so callers join the flight in progress; the flight never runs under a caller's cancellation. Placed on
/// the silo of the first caller, so the node that got the first request for a cold archive downloads it and streams it
/// to that request (and to every other request on that node) as it arrives.
/// </summary>
[Reentrant]
[PreferLocalPlacement]
[CollectionAgeLimit(Minutes = 5)]
internal sealed class ToolchainFileGrain(ToolchainMirror mirror) : Grain, IToolchainFileGrain
{
    private Task<ToolchainFetch>? _flight;

    public async Task<ToolchainFileReply> EnsureStoredAsync(CancellationToken cancellationToken)
    {
        var flight = _flight ??= RunAsync();
        try
        {
            var fetch = await flight.WaitAsync(cancellationToken);
            var state = fetch.Status != ToolchainFetchStatus.Stored && mirror.IsStopping ? ToolchainFileState.OwnerUnavailable : (ToolchainFileState)(int)fetch.Status;
            return new ToolchainFileReply(state, fetch.Error, fetch.RetryAfter, fetch.FromUpstream);
        }
        catch (OperationCanceledException) when (mirror.IsStopping && !cancellationToken.IsCancellationRequested)
        {
            return new ToolchainFileReply(ToolchainFileState.OwnerUnavailable, "the file's silo is shutting down", null, false);
        }
    }

    private async Task<ToolchainFetch> RunAsync()
    {
        try
        {
            return await mirror.EnsureAsOwnerAsync(this.GetPrimaryKeyString());
        }
        finally
        {
            _flight = null;
        }
    }
}
