using OrleansCrates.Mirror;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// The upstream clients' resilience settings against real (fake) upstreams on loopback: a 429's Retry-After holds
/// that upstream back (it is not asked again until then, even once its cool-down is over) while the next upstream
/// serves, and no request waits the Retry-After out.
/// </summary>
public sealed class UpstreamResilienceTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task A_429_holds_the_upstream_for_its_Retry_After_while_the_next_one_serves()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        var names = Graph.Names.Take(3).ToArray();
        primary.AddFault(new FaultRule { PathContains = "/", Kind = FaultKind.Status429, RetryAfterSeconds = 120, Times = 1 });

        var first = await mirror.IndexAsync(names[0]);
        Assert.Equal(IndexStatus.Found, first.Status);
        Assert.Equal(1, primary.IndexRequests(names[0]));
        Assert.Equal(1, secondary.IndexRequests(names[0]));
        Assert.Equal(UpstreamState.Down, mirror.Health(0).State);

        // Past the cool-down (30 s) but within the Retry-After (120 s): this request may probe the primary, and the
        // hold-back answers for it without a request; the secondary serves.
        mirror.Clock.Advance(FailoverHarness.Cooldown + TimeSpan.FromSeconds(1));
        var held = await mirror.IndexAsync(names[1]);
        Assert.Equal(IndexStatus.Found, held.Status);
        Assert.Equal(0, primary.IndexRequests(names[1]));
        Assert.Equal(1, secondary.IndexRequests(names[1]));

        // Once the Retry-After has passed (and the cool-down the held request started), the primary is asked again.
        mirror.Clock.Advance(TimeSpan.FromSeconds(120));
        var again = await mirror.IndexAsync(names[2]);
        Assert.Equal(IndexStatus.Found, again.Status);
        Assert.Equal(1, primary.IndexRequests(names[2]));
        Assert.Equal(0, secondary.IndexRequests(names[2]));
        Assert.Equal(UpstreamState.Up, mirror.Health(0).State);
    }

    [Fact]
    public async Task A_lone_upstreams_Retry_After_is_passed_on_never_waited_out()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var upstream = mirror.Fakes[0];
        var names = Graph.Names.Take(2).ToArray();
        upstream.AddFault(new FaultRule { PathContains = "/", Kind = FaultKind.Status429, RetryAfterSeconds = 8, Times = 1 });

        // Were the wait taken here, these calls would need 8 s of the clock, which only the test moves: the deadline
        // below would pass first. They answer at once instead, with the time left for cargo to wait.
        var limited = await mirror.IndexAsync(names[0]).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(IndexStatus.Unavailable, limited.Status);
        Assert.Equal(TimeSpan.FromSeconds(8), limited.RetryAfter);

        var held = await mirror.IndexAsync(names[1]).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(IndexStatus.Unavailable, held.Status);
        Assert.NotNull(held.RetryAfter);
        Assert.Equal(0, upstream.IndexRequests(names[1])); // held back: not asked at all
        Assert.Equal(1, upstream.TotalRequests);
    }

    [Fact]
    public async Task A_lone_upstreams_5xx_is_retried_within_its_attempts_a_timeout_is_not()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1), o => o.Upstreams[0].Timeout = TimeSpan.FromSeconds(1));
        var upstream = mirror.Fakes[0];
        var names = Graph.Names.Take(2).ToArray();

        upstream.AddFault(new FaultRule { PathContains = "/" + names[0], Kind = FaultKind.Status500, Times = 1 });
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync(names[0])).Status); // the second attempt (UpstreamMaxAttempts = 2) succeeds
        Assert.Equal(2, upstream.IndexRequests(names[0]));

        upstream.AddFault(new FaultRule { PathContains = "/" + names[1], Kind = FaultKind.Slow, Delay = TimeSpan.FromSeconds(30) });
        var slow = await mirror.IndexAsync(names[1]);
        Assert.Equal(IndexStatus.Unavailable, slow.Status);
        Assert.Contains("timed out", slow.Error, StringComparison.Ordinal);
        Assert.Equal(1, upstream.IndexRequests(names[1]));
    }
}
