using OrleansCrates.Mirror;
using OrleansCrates.Testing;

namespace OrleansCrates.Mirror.Tests;

public sealed class KeepDeletedTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task A_version_deleted_upstream_whose_file_is_held_keeps_its_line_and_file_and_is_flagged()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var upstream = mirror.Fakes[0];
        var held = Graph.Get("abc", "1.1.0");
        await HoldAsync(mirror, held);

        // Upstream drops 1.1.0 (held here) and 1.0.0 (never downloaded here).
        upstream.Graph = Without(Graph, ("abc", "1.1.0"), ("abc", "1.0.0"));
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.Equal([.. upstream.Graph.IndexFileFor("abc")!, .. held.IndexLine, (byte)'\n'], result.Entry!.Stored!.Body);
        Assert.Equal(["1.1.0"], result.Entry.Stored.DeletedUpstream);
        var stored = await mirror.StoredIndexOrNullAsync("abc");
        Assert.Equal(["1.1.0"], stored!.DeletedUpstream);
        Assert.Equal(result.Entry.Stored.Body, stored.Body);
        Assert.Null(result.Entry.FindVersion("1.0.0"));

        await using var file = await mirror.FileAsync(held.Name, held.Version);
        Assert.Equal(CrateFileStatus.Found, file.Status);
        Assert.Equal(1, upstream.Downloads(held.Name, held.Version));
    }

    [Fact]
    public async Task A_crate_deleted_upstream_keeps_serving_the_versions_whose_files_are_held()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var upstream = mirror.Fakes[0];
        var held = Graph.Get("abcd", "2.0.1");
        await HoldAsync(mirror, held);

        upstream.Graph = CrateGraph.Create(Graph.Crates.Where(c => c.Name != "abcd"));
        for (var i = 0; i < 2; i++)
        {
            // Upstream says 404, asked each time the TTL runs out; the crate never flips to 404 here.
            mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
            var result = await mirror.IndexAsync("abcd");
            Assert.Equal(IndexStatus.Found, result.Status);
            Assert.Equal([.. held.IndexLine, (byte)'\n'], result.Entry!.Stored!.Body);
            Assert.Equal(["2.0.1"], result.Entry.Stored.DeletedUpstream);
        }

        Assert.Equal(3, upstream.IndexRequests("abcd"));
        Assert.All(upstream.Requests.Where(r => r.Path.EndsWith("/abcd", StringComparison.Ordinal)).Skip(1), r => Assert.Equal(404, r.Status));
        await using var file = await mirror.FileAsync(held.Name, held.Version);
        Assert.Equal(CrateFileStatus.Found, file.Status);
    }

    [Fact]
    public async Task A_crate_deleted_upstream_with_no_held_files_is_not_found()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abcd")).Status);

        mirror.Fakes[0].Graph = CrateGraph.Create(Graph.Crates.Where(c => c.Name != "abcd"));
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));

        Assert.Equal(IndexStatus.NotFound, (await mirror.IndexAsync("abcd")).Status);
    }

    [Fact]
    public async Task A_kept_version_that_upstream_lists_again_is_upstreams_line_again_and_no_longer_flagged()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var upstream = mirror.Fakes[0];
        var held = Graph.Get("MixedCase", "1.0.0");
        await HoldAsync(mirror, held);
        upstream.Graph = Without(Graph, ("MixedCase", "1.0.0"));
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        Assert.Equal(["1.0.0"], (await mirror.IndexAsync("MixedCase")).Entry!.Stored!.DeletedUpstream);

        upstream.Graph = Graph;
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        var restored = await mirror.IndexAsync("MixedCase");

        Assert.Equal(Graph.IndexFileFor("MixedCase"), restored.Entry!.Stored!.Body);
        Assert.Empty(restored.Entry.Stored.DeletedUpstream);
        Assert.Empty((await mirror.StoredIndexOrNullAsync("MixedCase"))!.DeletedUpstream);
    }

    [Fact]
    public async Task Kept_lines_stay_kept_across_later_upstream_changes()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var upstream = mirror.Fakes[0];
        var held = Graph.Get("a", "1.0.0");
        await HoldAsync(mirror, held);
        upstream.Graph = Without(Graph, ("a", "1.0.0"));
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        await mirror.IndexAsync("a");

        // A publish upstream: the new body, plus the line kept earlier (taken from the previous served body).
        var published = CrateGraph.BuildCrate("a", "1.2.0");
        upstream.Graph = upstream.Graph.With(published);
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        var result = await mirror.IndexAsync("a");

        Assert.Equal([.. upstream.Graph.IndexFileFor("a")!, .. held.IndexLine, (byte)'\n'], result.Entry!.Stored!.Body);
        Assert.Equal(["1.0.0"], result.Entry.Stored.DeletedUpstream);
    }

    [Fact]
    public async Task With_KeepDeleted_off_upstream_deletions_are_followed()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1), o => o.KeepDeleted = false);
        var upstream = mirror.Fakes[0];
        var held = Graph.Get("abc", "1.1.0");
        await HoldAsync(mirror, held);

        upstream.Graph = Without(Graph, ("abc", "1.1.0"));
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        var result = await mirror.IndexAsync("abc");
        Assert.Equal(upstream.Graph.IndexFileFor("abc"), result.Entry!.Stored!.Body);
        Assert.Empty(result.Entry.Stored.DeletedUpstream);

        upstream.Graph = CrateGraph.Create(Graph.Crates.Where(c => c.Name != "abc"));
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        Assert.Equal(IndexStatus.NotFound, (await mirror.IndexAsync("abc")).Status);
    }

    [Fact]
    public void The_flag_round_trips_through_storage()
    {
        var index = new StoredIndex("{}\n"u8.ToArray(), "\"e\"", null, DateTimeOffset.UnixEpoch) { Upstream = "secondary", DeletedUpstream = ["1.0.0", "2.0.0+b"] };

        var read = StoredIndex.TryDeserialize(index.Serialize())!;

        Assert.Equal("secondary", read.Upstream);
        Assert.Equal(["1.0.0", "2.0.0+b"], read.DeletedUpstream);
        Assert.Equal(index.Body, read.Body);
    }

    private static async Task HoldAsync(FailoverHarness mirror, SyntheticCrate crate)
    {
        await using var file = await mirror.FileAsync(crate.Name, crate.Version);
        Assert.Equal(CrateFileStatus.Found, file.Status);
    }

    private static CrateGraph Without(CrateGraph graph, params (string Name, string Version)[] versions) =>
        CrateGraph.Create(graph.Crates.Where(c => !versions.Contains((c.Name, c.Version))));
}
