using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Testing;

namespace OrleansCrates.Grains.Tests;

/// <summary>
/// Silos of one Orleans cluster stand in for mirror nodes sharing one store: the crate's grain is the one owner of its
/// index and downloads, whichever silo the requests arrive at.
/// </summary>
public sealed class CrateGrainClusterTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task Concurrent_requests_on_different_silos_share_one_download()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var cluster = await GrainCluster.StartAsync(upstream);
        var crate = Graph.Crates.First(c => c.Name == "MixedCase"); // the grain's key is lower-case; upstream's file name is not
        var stall = upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Stall, Times = 1 });

        var first = cluster.FileAsync(1, crate.Name, crate.Version);
        await stall.Stalled.WaitAsync(GrainCluster.Timeout());
        var others = Enumerable.Range(0, 100).Select(i => cluster.FileAsync(i % 2, crate.Name, crate.Version)).ToList();
        Assert.DoesNotContain(others, o => o.IsCompleted); // nobody fetches on their own: they wait for the grain's download
        stall.Release();

        foreach (var result in await Task.WhenAll(others.Append(first)))
        {
            Assert.Equal(CrateFileStatus.Found, result.Status);
            Assert.Equal(crate.CrateBytes, result.Bytes);
        }

        Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task A_silo_with_a_copy_serves_it_while_the_grain_revalidates()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var cluster = await GrainCluster.StartAsync(upstream);
        var original = await cluster.IndexAsync(0, "abc");
        await cluster.IndexAsync(1, "abc");
        cluster.Clock.Advance(GrainCluster.Ttl + TimeSpan.FromSeconds(1));
        var stall = upstream.AddFault(new FaultRule { PathContains = "/3/a/abc", Kind = FaultKind.Stall, Times = 1 });

        var revalidating = cluster.IndexAsync(0, "abc");
        await stall.Stalled.WaitAsync(GrainCluster.Timeout());
        var served = await cluster.IndexAsync(1, "abc");
        Assert.Equal(IndexStatus.Found, served.Status);
        Assert.True(served.IsStale);
        Assert.Equal(original.Entry!.Stored!.Body, served.Entry!.Stored!.Body);

        stall.Release();
        Assert.Equal(IndexStatus.Found, (await revalidating).Status);
        Assert.Equal(2, upstream.IndexRequests("abc"));
    }

    [Fact]
    public async Task A_cold_silo_waits_for_the_index_the_grain_is_fetching()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var cluster = await GrainCluster.StartAsync(upstream);
        var stall = upstream.AddFault(new FaultRule { PathContains = "/3/a/abc", Kind = FaultKind.Stall, Times = 1 });

        var fromA = cluster.IndexAsync(0, "abc");
        await stall.Stalled.WaitAsync(GrainCluster.Timeout());
        var fromB = cluster.IndexAsync(1, "abc");
        Assert.False(fromB.IsCompleted);
        stall.Release();

        Assert.Equal((await fromA).Entry!.ETag, (await fromB).Entry!.ETag);
        Assert.Equal(1, upstream.IndexRequests("abc"));
    }

    [Fact]
    public async Task When_the_silo_downloading_dies_waiting_callers_get_the_file_from_the_grains_new_activation()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var cluster = await GrainCluster.StartAsync(upstream, silos: 3);
        var crate = Graph.Get("abcd", "2.0.1");
        await cluster.IndexAsync(2, crate.Name); // the index is stored: only the download is in flight when the silo dies
        var stall = upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Stall, Times = 1 });

        // The grain is placed on the first caller's silo (2), which starts the download and stalls in it.
        var doomed = cluster.FileAsync(2, crate.Name, crate.Version);
        await stall.Stalled.WaitAsync(GrainCluster.Timeout());
        var waiting = Enumerable.Range(0, 10).Select(i => cluster.FileAsync(i % 2, crate.Name, crate.Version)).ToList();
        await cluster.Cluster.KillSiloAsync(cluster.Cluster.Silos[2]);

        foreach (var result in await Task.WhenAll(waiting))
        {
            Assert.Equal(CrateFileStatus.Found, result.Status);
            Assert.Equal(crate.CrateBytes, result.Bytes);
        }

        Assert.Equal(2, upstream.Downloads(crate.Name, crate.Version)); // the dead silo's unfinished one, and one refetch
        stall.Release();
        _ = await Record.ExceptionAsync(() => doomed); // its caller died with it
        var stored = await cluster.Store.OpenReadOrNullAsync(MirrorKeys.CrateFile(CrateName.Parse(crate.Name), crate.Version), GrainCluster.Timeout());
        await using (stored)
        {
            Assert.Equal(crate.CrateBytes.Length, stored!.Length);
        }
    }

    [Theory]
    [InlineData(1)] // the other writer's document is newer: it is adopted and ours dropped
    [InlineData(-1)] // it is older: ours replaces exactly it
    public async Task A_conflicting_index_write_from_a_duplicate_activation_is_detected_and_never_overwritten_unseen(int theirsNewerBySeconds)
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var cluster = await GrainCluster.StartAsync(upstream);
        var name = CrateName.Parse("abc");
        var key = MirrorKeys.Index(name);
        var first = await cluster.IndexAsync(0, "abc");
        cluster.Clock.Advance(GrainCluster.Ttl + TimeSpan.FromSeconds(1));
        var stall = upstream.AddFault(new FaultRule { PathContains = "/3/a/abc", Kind = FaultKind.Stall, Times = 1 });

        // The grain reads the stored document and asks upstream; meanwhile a duplicate activation (a brief one during a
        // membership change) writes its own revalidation over the same document.
        var revalidating = cluster.IndexAsync(0, "abc");
        await stall.Stalled.WaitAsync(GrainCluster.Timeout());
        var read = (await cluster.Store.ReadSmallOrNullAsync(key, GrainCluster.Timeout()))!.Value;
        var theirs = first.Entry!.Stored! with
        {
            Body = [.. first.Entry.Stored.Body, .. "{\"name\":\"abc\",\"vers\":\"9.9.9-duplicate\",\"deps\":[],\"cksum\":\"00\",\"features\":{},\"yanked\":false}\n"u8],
            FetchedAt = cluster.Clock.GetUtcNow() + TimeSpan.FromSeconds(theirsNewerBySeconds),
        };
        var written = await cluster.Store.PutAsync(key, theirs.Serialize(), WriteCondition.IfMatch(read.ETag), GrainCluster.Timeout());
        Assert.True(written.Succeeded);
        stall.Release();
        var result = await revalidating;
        await cluster.SettledAsync(); // the answer went out before the write

        // The answer is upstream's (given before the write); the write is what must see the other document.
        Assert.Equal(first.Entry.Stored.Body, result.Entry!.Stored!.Body);
        Assert.Equal(1, cluster.Node(0).IndexWriteConflicts + cluster.Node(1).IndexWriteConflicts);
        var stored = StoredIndex.TryDeserialize((await cluster.Store.ReadSmallOrNullAsync(key, GrainCluster.Timeout()))!.Value.Content)!;
        if (theirsNewerBySeconds > 0)
        {
            Assert.Equal(theirs.Body, stored.Body); // newer than ours: kept, not overwritten
        }
        else
        {
            Assert.Equal(first.Entry.Stored.Body, stored.Body); // upstream's answer, written over the document it saw
            Assert.Equal(cluster.Clock.GetUtcNow(), stored.FetchedAt);
        }
    }
}
