using OrleansCrates.Upstream;
using Polly.CircuitBreaker;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// One upstream's Polly circuit breaker as the failover uses it, on a fake clock: what opens it, how long it stays
/// open, the one probe when it half-opens, and the health view that reads it.
/// </summary>
public sealed class UpstreamCircuitTests
{
    private static readonly TimeSpan Cooldown = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task One_failure_after_many_answers_opens_the_circuit_for_the_cooldown()
    {
        var circuit = new UpstreamCircuit("u", Cooldown, _clock);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(UpstreamVerdict.Answered, (await circuit.TryAskAsync(Answer, CancellationToken.None))!.Value.Verdict);
        }

        await circuit.TryAskAsync(Fail("answered 500"), CancellationToken.None);

        Assert.Equal(CircuitState.Open, circuit.CircuitState);
        var health = circuit.Snapshot();
        Assert.Equal((UpstreamState.Down, "answered 500", _clock.GetUtcNow() + Cooldown), (health.State, health.LastError, health.CooldownUntil));
        Assert.Null(await circuit.TryAskAsync(Unreachable, CancellationToken.None));
    }

    [Fact]
    public async Task A_first_failure_opens_it_too_and_a_longer_Retry_After_holds_it_even_as_a_last_resort()
    {
        var circuit = new UpstreamCircuit("u", Cooldown, _clock);

        await circuit.TryAskAsync(Fail("answered 429", TimeSpan.FromMinutes(2)), CancellationToken.None);

        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromMinutes(2), circuit.Snapshot().CooldownUntil);
        _clock.Advance(Cooldown + TimeSpan.FromSeconds(1));
        Assert.Null(await circuit.TryAskAsync(Unreachable, CancellationToken.None)); // still open: the break was the Retry-After
        var held = await circuit.AskRegardlessAsync(Unreachable, CancellationToken.None); // not asked, not even as a last resort
        Assert.Equal(UpstreamVerdict.Failed, held.Verdict);
        Assert.Equal(TimeSpan.FromSeconds(89), held.RetryAfter);
    }

    [Fact]
    public async Task When_it_half_opens_one_request_probes_and_its_answer_closes_the_circuit()
    {
        var circuit = new UpstreamCircuit("u", Cooldown, _clock);
        await circuit.TryAskAsync(Fail("reset"), CancellationToken.None);
        _clock.Advance(Cooldown);

        var probeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<UpstreamJudgement>(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = circuit.TryAskAsync(_ => { probeStarted.SetResult(); return release.Task; }, CancellationToken.None);
        await probeStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(CircuitState.HalfOpen, circuit.CircuitState);
        Assert.Equal(UpstreamState.Down, circuit.Snapshot().State);
        Assert.Null(await circuit.TryAskAsync(Unreachable, CancellationToken.None)); // one probe at a time

        release.SetResult(UpstreamJudgement.Answered(TimeSpan.FromMilliseconds(40)));
        Assert.Equal(UpstreamVerdict.Answered, (await probe)!.Value.Verdict);
        var health = circuit.Snapshot();
        Assert.Equal((UpstreamState.Up, (string?)"reset", (DateTimeOffset?)null), (health.State, health.LastError, health.CooldownUntil));
        Assert.Equal(CircuitState.Closed, circuit.CircuitState);
    }

    [Fact]
    public async Task An_answer_as_a_last_resort_closes_an_open_circuit_and_a_cancelled_request_judges_nothing()
    {
        var circuit = new UpstreamCircuit("u", Cooldown, _clock);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => circuit.TryAskAsync(_ => throw new OperationCanceledException(), CancellationToken.None));
        Assert.Equal((CircuitState.Closed, UpstreamState.Unknown), (circuit.CircuitState, circuit.Snapshot().State));

        await circuit.TryAskAsync(Fail("timed out"), CancellationToken.None);
        Assert.Equal(CircuitState.Open, circuit.CircuitState);

        Assert.Equal(UpstreamVerdict.Answered, (await circuit.AskRegardlessAsync(Answer, CancellationToken.None)).Verdict);
        Assert.Equal((CircuitState.Closed, UpstreamState.Up), (circuit.CircuitState, circuit.Snapshot().State));
    }

    private static Task<UpstreamJudgement> Answer(CancellationToken ct) => Task.FromResult(UpstreamJudgement.Answered(TimeSpan.FromMilliseconds(5)));

    private static Func<CancellationToken, Task<UpstreamJudgement>> Fail(string error, TimeSpan? retryAfter = null) =>
        _ => Task.FromResult(UpstreamJudgement.Failed(error, retryAfter));

    private static Task<UpstreamJudgement> Unreachable(CancellationToken ct) => throw new InvalidOperationException("this upstream must not be asked");
}
