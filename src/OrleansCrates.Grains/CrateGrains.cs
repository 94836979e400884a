using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Protocol;

namespace OrleansCrates.Grains;

/// <summary>
/// The one way the web code reaches crate grains: the key is the parsed crate's lower-case name, so every spelling
/// meets at one grain. Each call has its own deadline and retries: a call that fails because a silo died (or whose
/// answer never comes) is made again, reaching the grain's new activation after the dead silo is evicted, until the
/// deadline; then the caller gets an unavailable outcome with Retry-After (503), never a hang.
/// </summary>
public sealed partial class CrateGrains(IGrainFactory grains, IOptions<MirrorOptions> options, ILogger<CrateGrains> logger) : ICrateOwners
{
    /// <summary>One call's wait before it is made again (joining the same flight if the grain is alive).</summary>
    internal static TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an index request waits for the crate's owner in all.</summary>
    internal static readonly TimeSpan IndexDeadline = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    /// <summary>Calls that failed in an unexpected way are made again at most this often (the work is idempotent; a bug is not retried for long).</summary>
    private const int MaxUnexpectedFailures = 3;

    public Task<IndexRefresh> RefreshIndexAsync(CrateName name, TimeSpan? maxAge, CancellationToken cancellationToken) =>
        CallAsync(
            name,
            async (grain, ct) => await grain.GetIndexAsync(maxAge, ct) is { State: not CrateIndexState.OwnerUnavailable } reply ? CrateReplies.ToRefresh(reply) : null,
            IndexDeadline,
            error => new IndexRefresh(null, error, RetryAfter),
            cancellationToken);

    public Task<FetchOutcome> EnsureStoredAsync(CrateName name, string version, CancellationToken cancellationToken) =>
        CallAsync(
            name,
            async (grain, ct) => await grain.EnsureStoredAsync(version, ct) is { State: not CrateFileState.OwnerUnavailable } reply ? CrateReplies.ToOutcome(reply) : null,
            options.Value.ColdFetchDeadline,
            error => new FetchOutcome(CrateFileStatus.OwnerUnavailable, $"{name} {version}: {error}", RetryAfter),
            cancellationToken);

    /// <summary>
    /// One call to the crate's grain: where its download runs. A failure (the grain's silo died) is the caller's to
    /// retry (<see cref="Core.Streaming.InFlightSpools.FollowAsync"/> does, while it waits for the file).
    /// </summary>
    public async Task<Core.Streaming.SpoolLocation?> LocateDownloadAsync(CrateName name, string version, CancellationToken cancellationToken) =>
        CrateReplies.ToLocation(await grains.GetGrain<ICrateGrain>(name.Lower).LocateDownloadAsync(version, cancellationToken));

    /// <param name="call">One call; null when the grain's silo is leaving (asked again, reaching the next activation).</param>
    private async Task<T> CallAsync<T>(
        CrateName name,
        Func<ICrateGrain, CancellationToken, Task<T?>> call,
        TimeSpan deadline,
        Func<string, T> unavailable,
        CancellationToken cancellationToken)
        where T : class
    {
        var grain = grains.GetGrain<ICrateGrain>(name.Lower);
        using var overall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        overall.CancelAfter(deadline);
        var backoff = TimeSpan.FromMilliseconds(50);
        var attempts = 0;
        var unexpected = 0;
        string last = "no answer";
        while (true)
        {
            attempts++;
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(overall.Token);
            attempt.CancelAfter(AttemptTimeout);
            try
            {
                if (await call(grain, attempt.Token).WaitAsync(attempt.Token) is { } answer)
                {
                    return answer;
                }

                last = "the crate's silo is shutting down";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = $"no answer within {AttemptTimeout.TotalSeconds:0} s";
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                // The silo holding the grain died or is unreachable: after it is evicted, the call reaches a new activation.
                last = $"{e.GetType().Name}: {e.Message}";
                LogCallFailed(logger, name.Lower, attempts, last);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && ++unexpected < MaxUnexpectedFailures)
            {
                // E.g. the owning silo shutting down under the work: the next call reaches an activation elsewhere.
                last = $"{e.GetType().Name}: {e.Message}";
                LogCallFailed(logger, name.Lower, attempts, last);
            }

            if (overall.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                LogGaveUp(logger, name.Lower, attempts, deadline.TotalSeconds, last);
                return unavailable($"the cluster did not answer within {deadline.TotalSeconds:0} s ({last})");
            }

            try
            {
                await Task.Delay(backoff, overall.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }
}
