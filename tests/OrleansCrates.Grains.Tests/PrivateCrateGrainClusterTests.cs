using System.Text;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Testing;

namespace OrleansCrates.Grains.Tests;

/// <summary>
/// Silos of one Orleans cluster stand in for registry nodes sharing one store: each private crate's grain is its one
/// writer, whichever silo a change arrives at, and the storage fences still catch writers outside the cluster.
/// </summary>
public sealed class PrivateCrateGrainClusterTests
{
    [Fact]
    public async Task Concurrent_publishes_of_one_crate_from_both_silos_all_land_through_its_one_writer()
    {
        await using var cluster = await PrivateGrainCluster.StartAsync();
        var crates = Enumerable.Range(0, 16).Select(i => CrateGraph.BuildCrate("contended", $"1.{i}.0")).ToArray();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publishes = crates.Select((crate, i) => Task.Run(async () =>
        {
            await start.Task;
            return await cluster.PublishAsync(i % 2, crate);
        })).ToArray();
        start.SetResult();
        var results = await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(120));

        Assert.All(results, r => Assert.True(r.Succeeded, $"Expected every version to land, got {r.Error}"));
        Assert.Single(results, r => r.Published!.CreatedCrate);
        foreach (var node in new[] { 0, 1 })
        {
            var lines = await cluster.IndexAsync("contended", node);
            Assert.Equal(crates.Select(c => c.Version).Order(), lines.Select(l => l.Version).Order());
            Assert.All(crates, c => Assert.Equal(c.Sha256, lines.Single(l => l.Version == c.Version).Checksum));
        }

        // One writer for the crate: its changes were made one after another, so no conditional write ever lost a race.
        Assert.Equal(0, cluster.Log.LostConditionalWrites);
        Assert.Equal(["alice"], (await cluster.Node(1).ListOwnersAsync(CrateName.Parse("contended"), PrivateGrainCluster.Timeout())).Logins);
        Assert.Equal("1.15.0", (await cluster.Node(0).SearchAsync("contended", 1, PrivateGrainCluster.Timeout())).Crates.Single().MaxVersion);
    }

    [Fact]
    public async Task A_conflicting_write_between_the_grains_read_and_its_write_is_detected_and_both_changes_survive()
    {
        await using var cluster = await PrivateGrainCluster.StartAsync();
        var name = CrateName.Parse("fenced");
        var ct = PrivateGrainCluster.Timeout();
        Assert.True((await cluster.PublishAsync(0, CrateGraph.BuildCrate("fenced", "1.0.0"))).Succeeded);
        var outsider = cluster.Outsider(); // the offline CLI or another region: same store, not in this cluster

        // Publish: after the grain read the index, the outsider publishes 2.0.0 to it.
        var theirs = CrateGraph.BuildCrate("fenced", "2.0.0");
        var published = cluster.Log.InterceptNextWrite(RegistryKeys.Index(name), async token =>
            Assert.True((await outsider.PublishAsync("alice", PrivateGrainCluster.Body(theirs), token)).Succeeded));
        var ours = await cluster.PublishAsync(1, CrateGraph.BuildCrate("fenced", "1.1.0"));
        await published.Done;
        Assert.True(ours.Succeeded, ours.Error?.ToString());
        Assert.Equal(1, cluster.Log.LostConditionalWrites);
        Assert.Equal(["1.0.0", "2.0.0", "1.1.0"], (await cluster.IndexAsync("fenced")).Select(l => l.Version));
        Assert.Equal("2.0.0", (await cluster.Node(1).SearchAsync("fenced", 1, ct)).Crates.Single().MaxVersion);

        // Yank: after the grain read the index, the outsider yanks another version.
        var yanked = cluster.Log.InterceptNextWrite(RegistryKeys.Index(name), async token =>
            Assert.True((await outsider.YankAsync("alice", false, name, "1.0.0", true, token)).Succeeded));
        Assert.True((await cluster.Node(0).YankAsync("alice", false, name, "2.0.0", true, ct)).Succeeded);
        await yanked.Done;
        Assert.Equal(2, cluster.Log.LostConditionalWrites);
        Assert.Equal([true, true, false], (await cluster.IndexAsync("fenced", 1)).Select(l => l.Yanked));

        // Owners: after the grain read the metadata, the outsider adds another owner.
        var added = cluster.Log.InterceptNextWrite(RegistryKeys.Meta(name), async token =>
            Assert.True((await outsider.AddOwnersAsync("alice", false, name, ["bob"], token)).Succeeded));
        Assert.True((await cluster.Node(1).AddOwnersAsync("alice", false, name, ["carol"], ct)).Succeeded);
        await added.Done;
        Assert.Equal(3, cluster.Log.LostConditionalWrites);
        Assert.Equal(["alice", "bob", "carol"], (await cluster.Node(0).ListOwnersAsync(name, ct)).Logins);
    }

    [Fact]
    public async Task A_commit_whose_answer_was_lost_is_retried_and_reports_success_while_a_new_duplicate_is_refused()
    {
        await using var cluster = await PrivateGrainCluster.StartAsync();
        var ct = PrivateGrainCluster.Timeout();
        var crate = CrateGraph.BuildCrate("retried", "1.0.0");

        // The commit lands, then its caller hears that the silo died: the call is made again, marked as retried.
        cluster.FailAfterCommits = 1;
        var result = await cluster.PublishAsync(0, crate);
        Assert.True(result.Succeeded, $"Expected the retried commit to report success, got {result.Error}");
        Assert.Equal(1, cluster.FailedAfterCommit);
        var line = Assert.Single(await cluster.IndexAsync("retried", 1));
        Assert.Equal(crate.Sha256, line.Checksum);

        // A new publish of the very same bytes is a new request, refused as crates.io does.
        var again = await cluster.PublishAsync(1, crate);
        Assert.Equal(new RegistryError(400, "crate version `1.0.0` is already uploaded"), again.Error);

        // The grain itself: the same version with the same cksum is success only for a retried call; another cksum never.
        var stored = (await cluster.Node(0).GetIndexFileAsync(CrateName.Parse("retried"), ct))!.Content.ToArray();
        var storedLine = stored[..Array.IndexOf(stored, (byte)'\n')];
        var details = new PrivateCrateDetails(null, [], [], null, null, null, null);
        var commit = new PrivateVersionCommit("alice", "retried", "1.0.0", crate.Sha256, storedLine, details);
        var grain = cluster.Grain("retried");
        Assert.Equal(PrivateCrateOutcome.Done, (await grain.CommitVersionAsync(commit, retried: true, ct)).Outcome);
        var duplicate = await grain.CommitVersionAsync(commit, retried: false, ct);
        Assert.Equal((PrivateCrateOutcome.Refused, 400), (duplicate.Outcome, duplicate.Status));
        var otherSha = new string('a', 64);
        var otherLine = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(storedLine).Replace(crate.Sha256, otherSha, StringComparison.Ordinal));
        var different = await grain.CommitVersionAsync(commit with { Checksum = otherSha, IndexLine = otherLine }, retried: true, ct);
        Assert.Equal((PrivateCrateOutcome.Refused, 400), (different.Outcome, different.Status));
        Assert.Contains("already uploaded", different.Message, StringComparison.Ordinal);
        Assert.Single(await cluster.IndexAsync("retried"));
    }

    [Fact]
    public async Task Yank_owners_and_release_go_through_the_crates_grain_from_any_silo_and_any_spelling()
    {
        await using var cluster = await PrivateGrainCluster.StartAsync();
        var ct = PrivateGrainCluster.Timeout();
        var name = CrateName.Parse("owned-crate");
        var otherSpelling = CrateName.Parse("Owned_Crate");
        Assert.True((await cluster.PublishAsync(0, CrateGraph.BuildCrate("owned-crate", "1.0.0"))).Succeeded);

        var yank = await cluster.Node(1).YankAsync("alice", false, otherSpelling, "1.0.0", true, ct);
        Assert.Equal("yanked `owned-crate` 1.0.0", yank.Message);
        Assert.True(Assert.Single(await cluster.IndexAsync("owned-crate", 0)).Yanked); // visible on the other node at once
        Assert.True((await cluster.Node(0).YankAsync("alice", false, name, "1.0.0", false, ct)).Succeeded);
        Assert.False(Assert.Single(await cluster.IndexAsync("owned-crate", 1)).Yanked);
        Assert.Equal(403, (await cluster.Node(0).YankAsync("carol", false, name, "1.0.0", true, ct)).Error?.Status);
        Assert.Equal(404, (await cluster.Node(1).YankAsync("alice", false, name, "9.9.9", true, ct)).Error?.Status);

        var add = await cluster.Node(1).AddOwnersAsync("alice", false, otherSpelling, ["bob"], ct);
        Assert.Equal("user `bob` has been added as an owner of crate `owned-crate`", add.Message);
        Assert.Equal(["alice", "bob"], (await cluster.Node(0).ListOwnersAsync(name, ct)).Logins);
        Assert.True((await cluster.Node(0).YankAsync("bob", false, name, "1.0.0", true, ct)).Succeeded);
        Assert.Equal(400, (await cluster.Node(0).AddOwnersAsync("alice", false, name, ["nobody"], ct)).Error?.Status);
        Assert.True((await cluster.Node(0).RemoveOwnersAsync("alice", false, name, ["bob"], ct)).Succeeded);
        Assert.Equal(400, (await cluster.Node(1).RemoveOwnersAsync("alice", false, name, ["bob"], ct)).Error?.Status); // not retried: bob is no owner
        Assert.Equal(["alice"], (await cluster.Node(1).ListOwnersAsync(name, ct)).Logins);

        Assert.Equal(409, (await cluster.Node(1).ReleaseNameAsync(otherSpelling, deleteVersions: false, ct)).Error?.Status);
        Assert.True((await cluster.Node(1).ReleaseNameAsync(otherSpelling, deleteVersions: true, ct)).Succeeded);
        Assert.False(await cluster.Node(1).IsPrivateCrateAsync(name, ct));
        Assert.Null(await cluster.Node(0).GetIndexFileAsync(name, ct));
        Assert.Empty(await ToListAsync(cluster.Store.ListAsync(RegistryKeys.Root, ct)));
    }

    [Fact]
    public async Task When_the_silo_committing_a_publish_dies_the_callers_retry_lands_the_version_once()
    {
        await using var cluster = await PrivateGrainCluster.StartAsync(silos: 3);
        var name = CrateName.Parse("doomed");
        var ct = PrivateGrainCluster.Timeout();

        // The crate's grain is placed on the silo of its first caller (2); the publish then arrives at silo 0.
        Assert.Equal(404, (await cluster.Node(2).YankAsync("alice", false, name, "1.0.0", true, ct)).Error?.Status);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = cluster.Log.InterceptNextWrite(RegistryKeys.Index(name), _ => hold.Task); // claimed, line not yet written
        var crate = CrateGraph.BuildCrate("doomed", "1.0.0");
        var publishing = cluster.PublishAsync(0, crate);
        Assert.Equal(cluster.Cluster.Silos[2].Name, await held.Reached.WaitAsync(TimeSpan.FromSeconds(60)));

        await cluster.Cluster.KillSiloAsync(cluster.Cluster.Silos[2]);
        var result = await publishing.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(result.Succeeded, $"Expected the publish to land on the grain's next activation, got {result.Error}");
        var line = Assert.Single(await cluster.IndexAsync("doomed", 1));
        Assert.Equal((crate.Version, crate.Sha256), (line.Version, line.Checksum));
        Assert.Equal(["alice"], (await cluster.Node(1).ListOwnersAsync(name, ct)).Logins);
        hold.SetResult(); // the dead silo's writer may go on: its write is create-only on an index that now exists
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }
}
