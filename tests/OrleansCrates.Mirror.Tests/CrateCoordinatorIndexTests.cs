using OrleansCrates.Mirror;
using OrleansCrates.Testing;

namespace OrleansCrates.Mirror.Tests;

public sealed class CrateCoordinatorIndexTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task Serves_upstream_bytes_unchanged_and_asks_once_while_fresh()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);

        for (var i = 0; i < 10; i++)
        {
            var result = await mirror.IndexAsync("MixedCase");
            Assert.Equal(i == 0 ? CacheOutcome.Miss : CacheOutcome.Hit, result.Outcome);
            Assert.Equal(IndexStatus.Found, result.Status);
            Assert.Equal(Graph.IndexFileFor("MixedCase"), result.Entry!.Stored!.Body);
            Assert.False(result.IsStale);
        }

        Assert.Equal(1, upstream.IndexRequests("mixedcase"));
    }

    [Fact]
    public async Task Revalidates_with_the_upstream_etag_after_the_ttl()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var first = await mirror.IndexAsync("abc");

        mirror.Clock.Advance(MirrorHarness.Ttl + TimeSpan.FromSeconds(1));
        var second = await mirror.IndexAsync("abc");

        Assert.Equal(2, upstream.IndexRequests("abc"));
        var revalidation = upstream.Requests.Last(r => r.Path.EndsWith("/abc", StringComparison.Ordinal));
        Assert.NotNull(revalidation.IfNoneMatch);
        Assert.Equal(304, revalidation.Status);
        Assert.Equal(first.Entry!.Stored!.Body, second.Entry!.Stored!.Body);
        Assert.Equal(first.Entry.ETag, second.Entry.ETag);
    }

    [Fact]
    public async Task Picks_up_upstream_changes_after_the_ttl()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var before = await mirror.IndexAsync("abc");

        upstream.Graph = Graph.With(CrateGraph.BuildCrate("abc", "9.9.9"));
        Assert.Equal(before.Entry!.Stored!.Body, (await mirror.IndexAsync("abc")).Entry!.Stored!.Body); // still fresh
        mirror.Clock.Advance(MirrorHarness.Ttl + TimeSpan.FromSeconds(1));
        var after = await mirror.IndexAsync("abc");

        Assert.Equal(upstream.Graph.IndexFileFor("abc"), after.Entry!.Stored!.Body);
        Assert.NotEqual(before.Entry.ETag, after.Entry.ETag);
    }

    [Fact]
    public async Task Serves_a_stale_copy_when_upstream_fails_and_backs_off()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var good = await mirror.IndexAsync("abc");
        await upstream.StopAsync();

        mirror.Clock.Advance(TimeSpan.FromMinutes(10));
        var stale = await mirror.IndexAsync("abc");
        Assert.Equal(IndexStatus.Found, stale.Status);
        Assert.True(stale.IsStale);
        Assert.Equal(CacheOutcome.Stale, stale.Outcome);
        Assert.True(stale.Age >= TimeSpan.FromMinutes(10));
        Assert.NotNull(stale.Error);
        Assert.Equal(good.Entry!.Stored!.Body, stale.Entry!.Stored!.Body);

        // Within the failure backoff nobody asks upstream again; the stale copy keeps being served.
        await upstream.RestartAsync();
        var requestsBefore = upstream.IndexRequests("abc");
        Assert.True((await mirror.IndexAsync("abc")).IsStale);
        Assert.Equal(requestsBefore, upstream.IndexRequests("abc"));

        mirror.Clock.Advance(TimeSpan.FromSeconds(6));
        var recovered = await mirror.IndexAsync("abc");
        Assert.False(recovered.IsStale);
        Assert.Null(recovered.Error);
    }

    [Theory]
    [InlineData(FaultKind.Status500)]
    [InlineData(FaultKind.Reset)]
    [InlineData(FaultKind.Status429)]
    public async Task An_upstream_failure_with_nothing_cached_is_unavailable_not_missing(FaultKind fault)
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        upstream.AddFault(new FaultRule { PathContains = "/abc", Kind = fault, RetryAfterSeconds = 30 });

        var result = await mirror.IndexAsync("abc");
        Assert.Equal(IndexStatus.Unavailable, result.Status);
        Assert.NotNull(result.RetryAfter);
        if (fault == FaultKind.Status429)
        {
            Assert.Equal(TimeSpan.FromSeconds(30), result.RetryAfter); // upstream's own Retry-After is passed on
            Assert.Equal(IndexStatus.Unavailable, (await mirror.IndexAsync("abc")).Status); // and honoured: no new request
            Assert.Equal(1, upstream.IndexRequests("abc"));
        }

        upstream.ClearFaults();
        mirror.Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abc")).Status);
    }

    [Fact]
    public async Task Not_found_is_remembered_briefly()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(IndexStatus.NotFound, (await mirror.IndexAsync("no-such-crate")).Status);
        }

        Assert.Equal(1, upstream.IndexRequests("no-such-crate"));
        mirror.Clock.Advance(TimeSpan.FromSeconds(31));
        await mirror.IndexAsync("no-such-crate");
        Assert.Equal(2, upstream.IndexRequests("no-such-crate"));
    }

    [Fact]
    public async Task Concurrent_requests_for_a_stale_file_cause_one_revalidation_and_are_served_meanwhile()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var cached = await mirror.IndexAsync("abc");
        mirror.Clock.Advance(MirrorHarness.Ttl + TimeSpan.FromSeconds(1));
        var stall = upstream.AddFault(new FaultRule { PathContains = "/abc", Kind = FaultKind.Stall, Times = 1 });

        var leader = mirror.IndexAsync("abc");
        await stall.Stalled.WaitAsync(MirrorHarness.Timeout());
        // While the revalidation hangs upstream, everyone else is answered from the cached copy at once.
        var others = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => mirror.IndexAsync("abc")));
        Assert.All(others, r => Assert.Equal(cached.Entry!.Stored!.Body, r.Entry!.Stored!.Body));
        Assert.False(leader.IsCompleted);

        stall.Release();
        await leader;
        Assert.Equal(2, upstream.IndexRequests("abc"));
    }

    [Fact]
    public async Task A_cold_node_serves_what_storage_holds_while_upstream_is_down()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var warm = MirrorHarness.Create(upstream);
        var original = await warm.IndexAsync("abc");
        await warm.IndexStoredAsync("abc");
        await upstream.StopAsync();

        var clock = new FakeTimeProvider(warm.Clock.GetUtcNow() + TimeSpan.FromHours(1));
        await using var cold = MirrorHarness.Create(upstream, warm.Root, clock);
        var served = await cold.IndexAsync("abc");
        Assert.Equal(IndexStatus.Found, served.Status);
        Assert.True(served.IsStale);
        Assert.Equal(original.Entry!.Stored!.Body, served.Entry!.Stored!.Body);
    }

    [Fact]
    public async Task A_node_uses_a_fresh_copy_another_node_stored_without_asking_upstream()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var first = MirrorHarness.Create(upstream);
        await first.IndexAsync("abc");
        await first.IndexStoredAsync("abc");
        await using var second = MirrorHarness.Create(upstream, first.Root, first.Clock);

        Assert.Equal(IndexStatus.Found, (await second.IndexAsync("abc")).Status);
        Assert.Equal(1, upstream.IndexRequests("abc"));
    }
}
