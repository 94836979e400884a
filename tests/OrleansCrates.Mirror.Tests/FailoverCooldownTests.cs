using OrleansCrates.Mirror;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

public sealed class FailoverCooldownTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task Nothing_is_asked_at_start_and_every_upstream_is_unknown()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 3));

        Assert.All(mirror.Fakes, f => Assert.Equal(0, f.TotalRequests));
        Assert.Equal(FailoverHarness.Names, mirror.Upstreams.Status().Select(s => s.Name));
        Assert.All(mirror.Upstreams.Status(), s =>
        {
            Assert.Equal(UpstreamState.Unknown, s.Health.State);
            Assert.Null(s.Health.LastError);
            Assert.Null(s.Health.Latency);
            Assert.Null(s.Health.CooldownUntil);
        });
    }

    [Fact]
    public async Task A_failed_upstream_is_skipped_during_its_cooldown_and_probed_after_it()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        primary.AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Status500, Times = 1 });

        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abc")).Status); // primary 500, secondary answers

        // The primary would answer now, but it is cooling down: nobody asks it.
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abcd")).Status);
        Assert.Equal(0, primary.IndexRequests("abcd"));
        Assert.Equal(1, secondary.IndexRequests("abcd"));
        mirror.Clock.Advance(FailoverHarness.Cooldown - TimeSpan.FromSeconds(1));
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("ab")).Status);
        Assert.Equal(0, primary.IndexRequests("ab"));

        // Cool-down over: the next request probes the primary, which is up again and first in line once more.
        mirror.Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("MixedCase")).Status);
        Assert.Equal(1, primary.IndexRequests("MixedCase"));
        Assert.Equal(0, secondary.IndexRequests("MixedCase"));
        var health = mirror.Health(0);
        Assert.Equal(UpstreamState.Up, health.State);
        Assert.Null(health.CooldownUntil);
        Assert.Contains("answered 500", health.LastError, StringComparison.Ordinal); // the last error stays visible
    }

    [Fact]
    public async Task A_probe_that_fails_starts_a_new_cooldown()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var primary = mirror.Fakes[0];
        await primary.StopAsync();
        await mirror.IndexAsync("abc");

        mirror.Clock.Advance(FailoverHarness.Cooldown + TimeSpan.FromSeconds(1));
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abcd")).Status); // probe fails, secondary answers

        Assert.Equal(UpstreamState.Down, mirror.Health(0).State);
        Assert.Equal(mirror.Clock.GetUtcNow() + FailoverHarness.Cooldown, mirror.Health(0).CooldownUntil);
    }

    [Fact]
    public async Task When_every_upstream_is_cooling_down_they_are_still_asked_in_order()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        primary.AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Status500, Times = 1 });
        secondary.AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Status500, Times = 1 });

        Assert.Equal(IndexStatus.Unavailable, (await mirror.IndexAsync("abc")).Status);
        Assert.All(mirror.Upstreams.Status(), s => Assert.NotNull(s.Health.CooldownUntil));

        // Both are cooling down, and both would answer now: the request is not failed unasked, the primary answers.
        var result = await mirror.IndexAsync("abc");
        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.Equal(2, primary.IndexRequests("abc"));
        Assert.Equal(1, secondary.IndexRequests("abc"));
    }

    [Fact]
    public async Task An_upstream_cooling_down_is_still_asked_when_every_other_one_fails()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        primary.AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Status500, Times = 1 });
        await mirror.IndexAsync("abc"); // primary now cooling down

        secondary.AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Reset });
        var result = await mirror.IndexAsync("abcd");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.Equal(1, secondary.IndexRequests("abcd"));
        Assert.Equal(1, primary.IndexRequests("abcd"));
    }

    [Fact]
    public async Task Only_one_request_probes_an_upstream_whose_cooldown_has_ended()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        await primary.StopAsync();
        await mirror.IndexAsync("abc");
        await primary.RestartAsync();
        var stall = primary.AddFault(new FaultRule { PathContains = "/ab", Kind = FaultKind.Stall, Times = 1 });
        mirror.Clock.Advance(FailoverHarness.Cooldown + TimeSpan.FromSeconds(1));

        var probe = mirror.IndexAsync("ab");
        await stall.Stalled.WaitAsync(FailoverHarness.Timeout());

        // While the probe hangs, other requests keep going to the secondary.
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("a")).Status);
        Assert.Equal(0, primary.IndexRequests("a"));
        Assert.Equal(1, secondary.IndexRequests("a"));
        Assert.False(probe.IsCompleted);

        stall.Release();
        Assert.Equal(IndexStatus.Found, (await probe).Status);
        Assert.Equal(0, secondary.IndexRequests("ab"));
        Assert.Equal(UpstreamState.Up, mirror.Health(0).State);
    }

    [Fact]
    public async Task A_single_upstream_is_always_asked_even_while_cooling_down()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var only = mirror.Fakes[0];
        only.AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Reset, Times = 1 });

        // Reset once, retried by policy (a single upstream keeps Mirror:UpstreamMaxAttempts).
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abc")).Status);
        Assert.Equal(2, only.IndexRequests("abc"));

        only.AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Status500, Times = 2 });
        Assert.Equal(IndexStatus.Unavailable, (await mirror.IndexAsync("abcd")).Status);
        Assert.Equal(UpstreamState.Down, mirror.Health(0).State);
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abcd")).Status);
    }
}
