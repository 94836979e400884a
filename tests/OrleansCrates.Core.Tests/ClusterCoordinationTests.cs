using OrleansCrates.Core.Mirror;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.Core.Tests;

/// <summary>Two coordinators sharing one store stand in for two nodes; their leases are real OS file locks.</summary>
public sealed class ClusterCoordinationTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task A_node_waits_for_the_lease_holders_download_instead_of_fetching_again()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var nodeA = MirrorHarness.Create(upstream);
        await using var nodeB = MirrorHarness.Create(upstream, nodeA.Root, nodeA.Clock);
        var crate = Graph.Get("abcd", "2.0.1");
        var stall = upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Stall, Times = 1 });

        var fromA = nodeA.FileAsync(crate.Name, crate.Version);
        await stall.Stalled.WaitAsync(MirrorHarness.Timeout());
        var fromB = nodeB.FileAsync(crate.Name, crate.Version);
        Assert.False(fromB.IsCompleted); // B holds no lease: it waits for A's result in storage
        stall.Release();

        await using var a = await fromA;
        await using var b = await fromB;
        Assert.Equal(CrateFileStatus.Found, a.Status);
        Assert.Equal(CrateFileStatus.Found, b.Status);
        Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task A_node_with_a_copy_serves_it_while_another_node_revalidates()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var nodeA = MirrorHarness.Create(upstream);
        await using var nodeB = MirrorHarness.Create(upstream, nodeA.Root, nodeA.Clock);
        var original = await nodeA.IndexAsync("abc");
        await nodeB.IndexAsync("abc");
        nodeA.Clock.Advance(MirrorHarness.Ttl + TimeSpan.FromSeconds(1));
        var stall = upstream.AddFault(new FaultRule { PathContains = "/3/a/abc", Kind = FaultKind.Stall, Times = 1 });

        var revalidating = nodeA.IndexAsync("abc");
        await stall.Stalled.WaitAsync(MirrorHarness.Timeout());
        var served = await nodeB.IndexAsync("abc");
        Assert.Equal(IndexStatus.Found, served.Status);
        Assert.True(served.IsStale);
        Assert.Equal(original.Entry!.Stored!.Body, served.Entry!.Stored!.Body);

        stall.Release();
        await revalidating;
        Assert.Equal(2, upstream.IndexRequests("abc"));
    }

    [Fact]
    public async Task A_cold_node_waits_for_the_index_another_node_is_fetching()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var nodeA = MirrorHarness.Create(upstream);
        await using var nodeB = MirrorHarness.Create(upstream, nodeA.Root, nodeA.Clock);
        var stall = upstream.AddFault(new FaultRule { PathContains = "/3/a/abc", Kind = FaultKind.Stall, Times = 1 });

        var fromA = nodeA.IndexAsync("abc");
        await stall.Stalled.WaitAsync(MirrorHarness.Timeout());
        var fromB = nodeB.IndexAsync("abc");
        stall.Release();

        Assert.Equal((await fromA).Entry!.ETag, (await fromB).Entry!.ETag);
        Assert.Equal(1, upstream.IndexRequests("abc"));
    }

    [Fact]
    public async Task A_lease_is_exclusive_until_released()
    {
        var root = Path.Combine(Path.GetTempPath(), "oc-lease-" + Guid.NewGuid().ToString("N"));
        try
        {
            var leases = new FileSystemLeaseProvider(new FileSystemObjectStore(root));
            await using (var held = await leases.TryAcquireAsync("crates/x", CancellationToken.None))
            {
                Assert.NotNull(held);
                Assert.Null(await leases.TryAcquireAsync("crates/x", CancellationToken.None));
                await using var other = await leases.TryAcquireAsync("crates/y", CancellationToken.None);
                Assert.NotNull(other);
            }

            await using var again = await leases.TryAcquireAsync("crates/x", CancellationToken.None);
            Assert.NotNull(again);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
