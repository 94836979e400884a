using System.Diagnostics;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

public sealed class FailoverIndexTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task A_primary_that_is_down_is_passed_over_and_the_secondary_answers_byte_for_byte()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        await primary.StopAsync();

        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.False(result.IsStale);
        Assert.Equal(Graph.IndexFileFor("abc"), result.Entry!.Stored!.Body);
        Assert.Equal("secondary", (await mirror.StoredIndexOrNullAsync("abc"))!.Upstream);
        Assert.Equal(1, secondary.IndexRequests("abc"));

        var down = mirror.Health(0);
        Assert.Equal(UpstreamState.Down, down.State);
        Assert.NotNull(down.LastError);
        Assert.Equal(mirror.Clock.GetUtcNow(), down.LastErrorAt);
        Assert.Equal(mirror.Clock.GetUtcNow() + FailoverHarness.Cooldown, down.CooldownUntil);
        var up = mirror.Health(1);
        Assert.Equal(UpstreamState.Up, up.State);
        Assert.Null(up.LastError);
        Assert.NotNull(up.Latency);
        Assert.NotNull(up.SmoothedLatency);
    }

    [Theory]
    [InlineData(FaultKind.Status500)]
    [InlineData(FaultKind.Status503)]
    [InlineData(FaultKind.Status429)]
    [InlineData(FaultKind.Reset)]
    public async Task A_failing_primary_is_asked_once_and_the_next_upstream_answers(FaultKind fault)
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        primary.AddFault(new FaultRule { PathContains = "/index/", Kind = fault, RetryAfterSeconds = 1 });

        var result = await mirror.IndexAsync("MixedCase");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.Equal(Graph.IndexFileFor("MixedCase"), result.Entry!.Stored!.Body);
        Assert.Equal(1, primary.IndexRequests("MixedCase")); // the policy allows 2 attempts, but the next upstream is asked instead
        Assert.Equal(1, secondary.IndexRequests("MixedCase"));
        Assert.Equal(UpstreamState.Down, mirror.Health(0).State);
    }

    [Fact]
    public async Task A_primary_slower_than_its_timeout_is_left_within_that_timeout()
    {
        await using var mirror = FailoverHarness.Create(
            await FailoverHarness.StartUpstreamsAsync(Graph, 2),
            o => o.Upstreams[0].Timeout = TimeSpan.FromSeconds(1));
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Slow, Delay = TimeSpan.FromSeconds(30) });

        var clock = Stopwatch.StartNew();
        var result = await mirror.IndexAsync("abcd");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"expected the secondary's answer about 1 s after the primary's timeout, took {clock.Elapsed}");
        Assert.Contains("timed out", mirror.Health(0).LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Not_found_from_a_healthy_upstream_is_authoritative_and_nobody_else_is_asked()
    {
        var primary = await FakeUpstream.StartAsync(Graph);
        var secondary = await FakeUpstream.StartAsync(Graph.With(CrateGraph.BuildCrate("only-in-secondary", "1.0.0")));
        await using var mirror = FailoverHarness.Create([primary, secondary]);

        Assert.Equal(IndexStatus.NotFound, (await mirror.IndexAsync("only-in-secondary")).Status);

        Assert.Equal(0, secondary.TotalRequests);
        Assert.Equal(UpstreamState.Up, mirror.Health(0).State);
        Assert.Equal(UpstreamState.Unknown, mirror.Health(1).State);
    }

    [Fact]
    public async Task Validators_go_only_to_the_upstream_that_issued_them()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        await primary.StopAsync();
        await mirror.IndexAsync("abc"); // from the secondary, with the secondary's ETag
        await primary.RestartAsync();

        // Past the TTL and the primary's cool-down: the primary is asked, and without the secondary's ETag.
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        var fromPrimary = await mirror.IndexAsync("abc");
        var unconditional = Assert.Single(primary.Requests, r => r.Path.EndsWith("/abc", StringComparison.Ordinal));
        Assert.Null(unconditional.IfNoneMatch);
        Assert.Equal(200, unconditional.Status);
        Assert.Equal(Graph.IndexFileFor("abc"), fromPrimary.Entry!.Stored!.Body);
        Assert.Equal("primary", (await mirror.StoredIndexOrNullAsync("abc"))!.Upstream);

        // Now the primary's own ETag goes back to it, and it answers 304.
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        await mirror.IndexAsync("abc");
        var conditional = primary.Requests.Last(r => r.Path.EndsWith("/abc", StringComparison.Ordinal));
        Assert.NotNull(conditional.IfNoneMatch);
        Assert.Equal(304, conditional.Status);
        Assert.Equal(1, secondary.IndexRequests("abc"));
    }

    [Fact]
    public async Task A_stored_copy_without_an_upstream_name_belongs_to_the_primary()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var name = CrateName.Parse("abc");
        var first = await mirror.IndexAsync("abc");
        // What a node written before failover existed left in storage: validators, no upstream name.
        var legacy = first.Entry!.Stored! with { Upstream = null };
        await mirror.Store.PutAsync(MirrorKeys.Index(name), legacy.Serialize(), WriteCondition.None, FailoverHarness.Timeout());

        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        await mirror.IndexAsync("abc");

        var revalidation = mirror.Fakes[0].Requests.Last(r => r.Path.EndsWith("/abc", StringComparison.Ordinal));
        Assert.NotNull(revalidation.IfNoneMatch);
        Assert.Equal(304, revalidation.Status);
    }

    [Fact]
    public async Task A_stored_copy_a_crash_left_short_is_read_as_absent_and_replaced_at_the_next_refresh()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var name = CrateName.Parse("abc");
        var first = await mirror.IndexAsync("abc");
        Assert.Equal(1, mirror.Fakes[0].IndexRequests("abc"));
        Assert.NotNull(await mirror.StoredIndexOrNullAsync("abc")); // its own write, which follows the answer, is over

        // Index documents are written without waiting for the disk: a crash can leave one short. Here its last byte is
        // gone, header and all else intact.
        var written = first.Entry!.Stored!.Serialize();
        await mirror.Store.PutAsync(MirrorKeys.Index(name), written[..^1], WriteCondition.None, FailoverHarness.Timeout());
        Assert.Null(await mirror.StoredIndexOrNullAsync("abc"));

        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));
        var served = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Found, served.Status);
        Assert.Equal(Graph.IndexFileFor("abc"), served.Entry!.Stored!.Body); // never the short copy
        Assert.Equal(2, mirror.Fakes[0].IndexRequests("abc"));
        Assert.Equal(Graph.IndexFileFor("abc"), (await mirror.StoredIndexOrNullAsync("abc"))!.Body); // whole again
    }

    [Fact]
    public async Task Every_upstream_failing_with_nothing_cached_is_unavailable_and_names_each_error()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        await mirror.Fakes[0].StopAsync();
        mirror.Fakes[1].AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Status500 });

        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Unavailable, result.Status);
        Assert.Contains("primary: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("secondary: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("answered 500", result.Error, StringComparison.Ordinal);
        Assert.All(mirror.Upstreams.Status(), u => Assert.Equal(UpstreamState.Down, u.Health.State));
    }
}
