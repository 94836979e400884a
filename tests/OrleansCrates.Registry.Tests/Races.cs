using System.Text;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// Publishes racing on several nodes at once. Each node is its own <see cref="PrivateRegistry"/> over its own store
/// client for the shared storage (<c>newStore</c>), as separate processes would be. Callers wrap the stores in a
/// <see cref="LatencyStore"/> so the nodes really interleave, and check with <see cref="AssertRaced"/> that they did.
/// </summary>
internal static class Races
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    /// <summary>Starts every action at the same moment (as far as the thread pool allows) and waits for all.</summary>
    public static async Task<T[]> AllAtOnceAsync<T>(int count, Func<int, Task<T>> action)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await action(i);
        })).ToArray();
        start.SetResult();
        return await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Fails unless some conditional write lost a race: otherwise the test proved nothing about races.</summary>
    public static void AssertRaced(StoreStats stats) =>
        Assert.True(stats.LostIfMatch + stats.LostIfNotExists > 0, $"Expected the nodes to race (some conditional write to lose), but {stats}.");

    private static PrivateRegistry[] Nodes(RegistryHarness h, Func<IObjectStore> newStore, int count) =>
        Enumerable.Range(0, count).Select(_ => h.NewNode(store: newStore())).ToArray();

    /// <summary>16 first publishes of different versions of one new crate, by its one owner, from 4 nodes: all land.</summary>
    public static async Task DifferentVersionsAllLandAsync(RegistryHarness h, Func<IObjectStore> newStore)
    {
        var nodes = Nodes(h, newStore, 4);
        var crates = Enumerable.Range(0, 16).Select(i => CrateGraph.BuildCrate("contended", $"1.{i}.0")).ToArray();

        var results = await AllAtOnceAsync(16, i =>
            nodes[i % nodes.Length].PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crates[i]), crates[i].CrateBytes), Ct));

        Assert.All(results, r => Assert.True(r.Succeeded, $"Expected every version to land, got {r.Error}"));
        Assert.Single(results, r => r.Published!.CreatedCrate);
        var reader = h.NewNode(store: newStore());
        var index = await reader.GetIndexFileAsync(CrateName.Parse("contended"), Ct);
        Assert.NotNull(index);
        var lines = PrivateIndexLines.Versions(index.Content);
        Assert.Equal(16, lines.Count);
        Assert.Equal(crates.Select(c => c.Version).Order(), lines.Select(l => l.Version).Order());
        foreach (var crate in crates)
        {
            Assert.Equal(crate.Sha256, lines.Single(l => l.Version == crate.Version).Checksum);
            await using var file = await reader.OpenCrateFileAsync(CrateName.Parse("contended"), crate.Version, Ct);
            Assert.True(file.Found, file.Detail);
        }

        Assert.Equal(["alice"], (await reader.ListOwnersAsync(CrateName.Parse("contended"), Ct)).Logins);
        Assert.Equal("1.15.0", (await reader.SearchAsync("contended", 1, Ct)).Crates.Single().MaxVersion);
    }

    /// <summary>
    /// 8 publishes of one version (half with other bytes) from 8 nodes, first of a new crate, then of a new version of
    /// that crate: each time exactly one wins and the index names its file.
    /// </summary>
    public static async Task SameVersionHasOneWinnerAsync(RegistryHarness h, Func<IObjectStore> newStore)
    {
        var nodes = Nodes(h, newStore, 8);
        foreach (var version in new[] { "2.0.0", "3.0.0" })
        {
            var crates = Enumerable.Range(0, 8).Select(i => CrateGraph.BuildCrate("one-winner", version, paddingBytes: i % 2 == 0 ? 0 : 64 + i)).ToArray();

            var results = await AllAtOnceAsync(8, i =>
                nodes[i].PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crates[i]), crates[i].CrateBytes), Ct));

            var winner = Assert.Single(results, r => r.Succeeded);
            Assert.All(results.Where(r => !r.Succeeded), r => Assert.Equal(new RegistryError(400, $"crate version `{version}` is already uploaded"), r.Error));
            var reader = h.NewNode(store: newStore());
            var index = await reader.GetIndexFileAsync(CrateName.Parse("one-winner"), Ct);
            Assert.NotNull(index);
            var line = Assert.Single(PrivateIndexLines.Versions(index.Content), l => l.Version == version);
            Assert.Equal(winner.Published!.Checksum, line.Checksum);
            await using var file = await reader.OpenCrateFileAsync(CrateName.Parse("one-winner"), version, Ct);
            Assert.True(file.Found, file.Detail);
            using var bytes = new MemoryStream();
            await file.File.Content.CopyToAsync(bytes, Ct);
            Assert.Equal(crates.First(c => c.Sha256 == winner.Published.Checksum).CrateBytes, bytes.ToArray());
        }
    }

    /// <summary>Two users create the same new name at once (several rounds): one owner, one version, the other 403.</summary>
    public static async Task NewNameHasOneOwnerAsync(RegistryHarness h, Func<IObjectStore> newStore, int rounds)
    {
        var nodes = Nodes(h, newStore, 2);
        for (var round = 0; round < rounds; round++)
        {
            var name = $"claimed-{round}";
            var users = new[] { "alice", "bob" };
            var crates = new[] { CrateGraph.BuildCrate(name, "1.0.0"), CrateGraph.BuildCrate(round % 2 == 0 ? name : name.Replace('-', '_'), "1.0.1") };

            var results = await AllAtOnceAsync(2, i =>
                nodes[i].PublishAsync(users[i], PublishBody.Stream(PublishBody.NewCrateJson(crates[i]), crates[i].CrateBytes), Ct));

            var winner = Assert.Single(results, r => r.Succeeded);
            Assert.True(winner.Published!.CreatedCrate);
            var loser = Array.IndexOf(results, results.Single(r => !r.Succeeded));
            Assert.Equal(403, results[loser].Error?.Status);
            var owners = await h.NewNode(store: newStore()).ListOwnersAsync(CrateName.Parse(name), Ct);
            Assert.Equal([users[1 - loser]], owners.Logins);
            var index = await h.NewNode(store: newStore()).GetIndexFileAsync(CrateName.Parse(winner.Published.Name), Ct);
            Assert.NotNull(index);
            Assert.Equal(crates[1 - loser].Version, Assert.Single(PrivateIndexLines.Versions(index.Content)).Version);
        }
    }

    /// <summary>Owner additions, yanks and publishes of one crate from several nodes at once: every change lands.</summary>
    public static async Task MixedChangesAllLandAsync(RegistryHarness h, Func<IObjectStore> newStore)
    {
        for (var i = 0; i < 4; i++)
        {
            await h.PublishAsync("alice", "busy", $"0.{i}.0");
        }

        var nodes = Nodes(h, newStore, 4);
        var name = CrateName.Parse("busy");
        var newVersions = Enumerable.Range(0, 4).Select(i => CrateGraph.BuildCrate("busy", $"1.{i}.0")).ToArray();
        string[] newOwners = ["bob", "carol", "admin", "mallory"];
        var results = await AllAtOnceAsync(12, async i => i switch
        {
            < 4 => (await nodes[i % 4].AddOwnersAsync("alice", false, name, [newOwners[i]], Ct)).Error,
            < 8 => (await nodes[i % 4].YankAsync("alice", false, name, $"0.{i - 4}.0", true, Ct)).Error,
            _ => (await nodes[i % 4].PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(newVersions[i - 8]), newVersions[i - 8].CrateBytes), Ct)).Error,
        });

        Assert.All(results, error => Assert.Null(error));
        var reader = h.NewNode(store: newStore());
        var owners = (await reader.ListOwnersAsync(name, Ct)).Logins!;
        Assert.Equal("alice", owners[0]);
        Assert.Equal(newOwners.Order(), owners.Skip(1).Order());
        var index = await reader.GetIndexFileAsync(name, Ct);
        Assert.NotNull(index);
        var lines = PrivateIndexLines.Versions(index.Content);
        Assert.Equal(8, lines.Count);
        Assert.All(lines, l => Assert.Equal(l.Version.StartsWith("0.", StringComparison.Ordinal), l.Yanked));
        Assert.Equal("1.3.0", (await reader.SearchAsync("busy", 1, Ct)).Crates.Single().MaxVersion);
        Assert.EndsWith("\n", Encoding.UTF8.GetString(index.Content.Span), StringComparison.Ordinal);
    }
}
