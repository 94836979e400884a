using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Grains;

/// <summary>
/// The way the web code reaches toolchain file grains (keyed by the validated path). A call that fails because a silo
/// died, or whose silo is leaving, is made again until <see cref="ToolchainOptions.ColdFetchDeadline"/> (derived from
/// <c>Toolchains:MaxArchiveBytes</c>); then the caller gets "unavailable" with Retry-After (503), never a hang.
/// </summary>
public sealed partial class ToolchainGrains(IGrainFactory grains, IOptions<ToolchainOptions> options, ILogger<ToolchainGrains> logger) : IToolchainOwners
{
    private const int MaxAttempts = 5;

    public async Task<ToolchainFetch> EnsureAsync(string ownerPath, CancellationToken cancellationToken)
    {
        var grain = grains.GetGrain<IToolchainFileGrain>(ownerPath);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.Value.ColdFetchDeadline);
        var last = "no answer";
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            try
            {
                var reply = await grain.EnsureStoredAsync(deadline.Token).WaitAsync(deadline.Token);
                if (reply.State != ToolchainFileState.OwnerUnavailable)
                {
                    return new ToolchainFetch((ToolchainFetchStatus)(int)reply.State, reply.Error, reply.RetryAfter, reply.FromUpstream);
                }

                last = reply.Error ?? "the file's silo is shutting down";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = $"no answer within {options.Value.ColdFetchDeadline.TotalSeconds:0} s";
                break;
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                last = $"{e.GetType().Name}: {e.Message}";
                LogCallFailed(logger, ownerPath, attempt, last);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken);
        }

        return ToolchainFetch.Unavailable($"the cluster did not answer for {ownerPath} ({last})");
    }

    /// <summary>One call to the file's grain: where its download runs. A failure is the caller's to retry (<see cref="InFlightSpools.FollowAsync"/>).</summary>
    public async Task<SpoolLocation?> LocateDownloadAsync(string ownerPath, CancellationToken cancellationToken) =>
        CrateReplies.ToLocation(await grains.GetGrain<IToolchainFileGrain>(ownerPath).LocateDownloadAsync(cancellationToken));
}
