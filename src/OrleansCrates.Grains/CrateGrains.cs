using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
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
    /// retry (<see cref="Mirror.Streaming.InFlightSpools.FollowAsync"/> does, while it waits for the file).
    /// </summary>
    public async Task<Mirror.Streaming.SpoolLocation?> LocateDownloadAsync(CrateName name, string version, CancellationToken cancellationToken) =>
        CrateReplies.ToLocation(await grains.GetGrain<ICrateGrain>(name.Lower).LocateDownloadAsync(version, cancellationToken));

    /// <param name="call">One call; null when the grain's silo is leaving (asked again, reaching the next activation).</param>
    private Task<T> CallAsync<T>(
        CrateName name,
        Func<ICrateGrain, CancellationToken, Task<T?>> call,
        TimeSpan deadline,
        Func<string, T> unavailable,
        CancellationToken cancellationToken)
        where T : class
    {
        var grain = grains.GetGrain<ICrateGrain>(name.Lower);
        return GrainCalls.CallAsync(
            (_, ct) => call(grain, ct),
            deadline,
            AttemptTimeout,
            unavailable,
            (attempt, error) => LogCallFailed(logger, name.Lower, attempt, error),
            (attempts, error) => LogGaveUp(logger, name.Lower, attempts, deadline.TotalSeconds, error),
            cancellationToken);
    }
}
