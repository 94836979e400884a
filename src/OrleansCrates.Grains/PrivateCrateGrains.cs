using Microsoft.Extensions.Logging;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;

namespace OrleansCrates.Grains;

/// <summary>
/// The one way the web code reaches private crate grains (<see cref="IPrivateCrateWriters"/> on a server): the key is
/// the parsed crate's canonical name, so every spelling meets at one grain, the crate's single writer. Each change has
/// its own deadline, kept below cargo's 30 s without bytes: a call that fails because a silo died (or whose answer
/// never comes) is made again, marked as retried so the grain's next activation takes work an earlier call finished
/// for done (the same version with the same cksum, owners already removed, a name already released); when the deadline
/// passes the caller gets a 503 refusal (the API adds Retry-After), never a hang.
/// </summary>
public sealed partial class PrivateCrateGrains(IGrainFactory grains, ILogger<PrivateCrateGrains> logger) : IPrivateCrateWriters
{
    /// <summary>How long a change waits for the crate's writer in all (cargo gives up on a response that sends nothing for 30 s).</summary>
    internal static TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>One call's wait before it is made again (it then queues behind the first, if that one is still running).</summary>
    internal static TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public Task<CommitOutcome> CommitVersionAsync(VersionCommit commit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(commit);
        var message = PrivateCrateReplies.ToMessage(commit);
        return CallAsync(commit.Name, (grain, attempt, token) => grain.CommitVersionAsync(message, attempt > 1, token), PrivateCrateReplies.ToCommit, ct);
    }

    public Task<RegistryOutcome> SetYankedAsync(CrateChange change, string version, bool yanked, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(change);
        var message = PrivateCrateReplies.ToMessage(change);
        return CallAsync(change.Name, (grain, _, token) => grain.SetYankedAsync(message, version, yanked, token), PrivateCrateReplies.ToOutcome, ct);
    }

    public Task<RegistryOutcome> ChangeOwnersAsync(CrateChange change, IReadOnlyList<string> logins, bool add, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(logins);
        var message = PrivateCrateReplies.ToMessage(change);
        string[] list = [.. logins];
        return CallAsync(change.Name, (grain, attempt, token) => grain.ChangeOwnersAsync(message, list, add, attempt > 1, token), PrivateCrateReplies.ToOutcome, ct);
    }

    public Task<RegistryOutcome> ReleaseNameAsync(CrateName name, bool deleteVersions, CancellationToken ct) =>
        CallAsync(name, (grain, attempt, token) => grain.ReleaseNameAsync(name.Value, deleteVersions, attempt > 1, token), PrivateCrateReplies.ToOutcome, ct);

    private async Task<T> CallAsync<T>(
        CrateName name,
        Func<IPrivateCrateGrain, int, CancellationToken, Task<PrivateCrateReply>> call,
        Func<PrivateCrateReply, T> answer,
        CancellationToken cancellationToken)
    {
        var key = name.Canonical;
        var grain = grains.GetGrain<IPrivateCrateGrain>(key);
        var deadline = Deadline;
        var reply = await GrainCalls.CallAsync<PrivateCrateReply>(
            async (attempt, ct) => await call(grain, attempt, ct),
            deadline,
            AttemptTimeout,
            error => PrivateCrateReplies.Refused(RegistryError.Unavailable($"the writer of crate `{name}` did not answer in time; try again ({error})")),
            (attempt, error) => LogCallFailed(logger, key, attempt, error),
            (attempts, error) => LogGaveUp(logger, key, attempts, deadline.TotalSeconds, error),
            cancellationToken);
        return answer(reply);
    }
}
