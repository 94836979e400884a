using Microsoft.Extensions.Logging;
using Orleans.Placement;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Storage;

namespace OrleansCrates.Grains;

/// <summary>
/// The single writer of one private crate in the cluster (keyed by its canonical name): not reentrant, so publish's
/// commit, yank, owners and release run one turn at a time, and concurrent publishes of one crate from any silo
/// queue here instead of racing in storage. The work is <see cref="PrivateCrateWriter"/>'s, the same code the offline
/// CLI runs: it keeps nothing between turns and writes only create-only or If-Match on what it read in that turn, so a
/// writer outside the cluster (the CLI, another region) or a duplicate activation during a membership change makes a
/// write fail, and the writer reads again and decides again. Storage failures come back as values, never as
/// exceptions across silos. Placed on the silo of its first caller (no extra hop for that publish).
/// </summary>
[PreferLocalPlacement]
internal sealed partial class PrivateCrateGrain(PrivateCrateWriter writer, ILogger<PrivateCrateGrain> logger) : Grain, IPrivateCrateGrain
{
    public Task<PrivateCrateReply> CommitVersionAsync(PrivateVersionCommit commit, bool retried, CancellationToken cancellationToken) =>
        RunAsync(commit.Name, async name => PrivateCrateReplies.From(
            await writer.CommitVersionAsync(PrivateCrateReplies.FromMessage(commit, name), retried, cancellationToken)));

    public Task<PrivateCrateReply> SetYankedAsync(PrivateCrateChange change, string version, bool yanked, CancellationToken cancellationToken) =>
        RunAsync(change.Name, async name => PrivateCrateReplies.From(
            await writer.SetYankedAsync(new CrateChange(change.User, change.IsAdmin, name), version, yanked, cancellationToken)));

    public Task<PrivateCrateReply> ChangeOwnersAsync(PrivateCrateChange change, string[] logins, bool add, bool retried, CancellationToken cancellationToken) =>
        RunAsync(change.Name, async name =>
        {
            var who = new CrateChange(change.User, change.IsAdmin, name);
            return PrivateCrateReplies.From(add
                ? await writer.AddOwnersAsync(who, logins, cancellationToken)
                : await writer.RemoveOwnersAsync(who, logins, retried, cancellationToken));
        });

    public Task<PrivateCrateReply> ReleaseNameAsync(string name, bool deleteVersions, bool retried, CancellationToken cancellationToken) =>
        RunAsync(name, async crate => PrivateCrateReplies.From(
            await writer.ReleaseNameAsync(crate, deleteVersions, retried, cancellationToken)));

    /// <summary>Runs one change for a name that belongs to this grain; storage failing under it is an outcome (503), not an exception.</summary>
    private async Task<PrivateCrateReply> RunAsync(string spelled, Func<CrateName, Task<PrivateCrateReply>> change)
    {
        var key = this.GetPrimaryKeyString();
        if (!CrateName.TryParse(spelled, out var name) || name.Value.Canonical != key)
        {
            return PrivateCrateReplies.Refused(RegistryError.BadRequest($"`{spelled}` is not the crate this grain writes ({key})"));
        }

        try
        {
            return await change(name.Value);
        }
        catch (Exception e) when (e is StorageUnavailableException or IOException)
        {
            LogStorageFailed(logger, key, e.Message);
            return PrivateCrateReplies.StorageUnavailable();
        }
    }
}
