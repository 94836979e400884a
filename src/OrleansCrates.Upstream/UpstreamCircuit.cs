using Polly;
using Polly.CircuitBreaker;

namespace OrleansCrates.Upstream;

public enum UpstreamState
{
    /// <summary>Not asked anything since this node started.</summary>
    Unknown,

    /// <summary>Its circuit is closed: the last request got an answer (a "not found" is an answer).</summary>
    Up,

    /// <summary>Its circuit is open (or half-open, a probe in flight): a request failed (refused, reset, timed out, 5xx, 429).</summary>
    Down,
}

/// <summary>What this node knows about one upstream right now (for the health output).</summary>
public sealed record UpstreamHealthSnapshot(
    UpstreamState State,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    TimeSpan? Latency,
    TimeSpan? SmoothedLatency,
    DateTimeOffset? CooldownUntil);

/// <summary>One upstream as the health output shows it.</summary>
public sealed record UpstreamStatus(string Name, Uri IndexUrl, UpstreamHealthSnapshot Health);

/// <summary>What asking one upstream once came to.</summary>
public enum UpstreamVerdict
{
    /// <summary>It answered (200, 304, or an authoritative "not found"): its circuit closes.</summary>
    Answered,

    /// <summary>It could not answer (refused, reset, timed out, 5xx, 429, a broken transfer): its circuit opens.</summary>
    Failed,

    /// <summary>It answered with something unusable for this one file (none, wrong bytes): it stays up; the error is shown.</summary>
    BadContent,
}

/// <summary>The verdict on one attempt, with what the health output and the breaker need: latency, error, Retry-After.</summary>
public readonly record struct UpstreamJudgement(UpstreamVerdict Verdict, TimeSpan Latency, string? Error, TimeSpan? RetryAfter)
{
    public static UpstreamJudgement Answered(TimeSpan latency) => new(UpstreamVerdict.Answered, latency, null, null);

    public static UpstreamJudgement Failed(string error, TimeSpan? retryAfter = null) => new(UpstreamVerdict.Failed, TimeSpan.Zero, error, retryAfter);

    public static UpstreamJudgement BadContent(string error, TimeSpan latency) => new(UpstreamVerdict.BadContent, latency, error, null);
}

/// <summary>
/// One upstream's circuit breaker on this node (Polly's), which is its cool-down, and the project's own view of it for
/// the health output (last error, latency, until when it is skipped). A failed request opens the circuit: the upstream
/// is skipped for the cool-down, or for its <c>Retry-After</c> when that is longer (the break duration is generated
/// from the failure). Then the circuit half-opens and exactly one request probes the upstream; the others keep
/// skipping it until the probe reports, or for another cool-down if it does not. A probe that fails opens the circuit
/// again; one that answers closes it. <see cref="UpstreamFailover"/> asks an open circuit's upstream only as a last
/// resort (<see cref="AskRegardlessAsync"/>), and never while it holds the upstream for a <c>Retry-After</c>.
/// </summary>
public sealed class UpstreamCircuit
{
    /// <summary>Polly's shortest and longest break (and sampling) duration.</summary>
    public static readonly TimeSpan ShortestCooldown = TimeSpan.FromMilliseconds(500);

    public static readonly TimeSpan LongestCooldown = TimeSpan.FromDays(1);

    /// <summary>Weight of the newest latency in the smoothed one (an exponentially weighted moving average).</summary>
    private const double Smoothing = 0.2;

    private static readonly ResiliencePropertyKey<TimeSpan> RetryAfterKey = new("OrleansCrates.Upstream.RetryAfter");

    private readonly string _name;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cooldown;
    private readonly ResiliencePipeline<UpstreamJudgement> _breaker;
    private readonly CircuitBreakerStateProvider _state = new();
    private readonly CircuitBreakerManualControl _control = new();
    private readonly Lock _gate = new();
    private bool _asked;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private TimeSpan? _latency;
    private double? _smoothedMilliseconds;
    private DateTimeOffset? _openUntil;
    private DateTimeOffset _heldUntil = DateTimeOffset.MinValue;

    /// <param name="name">The upstream's name, for the errors this circuit reports itself.</param>
    /// <param name="cooldown">How long a failed upstream is skipped (<c>Mirror:UpstreamCooldown</c>), within Polly's bounds (0.5 s to 1 day).</param>
    /// <param name="time">The clock the breaker's durations run on.</param>
    public UpstreamCircuit(string name, TimeSpan cooldown, TimeProvider time)
    {
        _name = name;
        _time = time;
        _cooldown = cooldown < ShortestCooldown ? ShortestCooldown : cooldown > LongestCooldown ? LongestCooldown : cooldown;
        _breaker = new ResiliencePipelineBuilder<UpstreamJudgement> { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<UpstreamJudgement>
            {
                // One failed request opens the circuit, whatever answered before it: any failure ratio breaks once
                // Polly's smallest sample (two outcomes) is there, see CountOnceMoreAsync.
                FailureRatio = 0,
                MinimumThroughput = 2,
                SamplingDuration = _cooldown,
                BreakDuration = _cooldown, // also how long a probe may take before another request may probe
                BreakDurationGenerator = args => ValueTask.FromResult(
                    args.Context.Properties.TryGetValue(RetryAfterKey, out var wait) && wait > _cooldown ? wait : _cooldown),
                // A request that ended in an exception (the caller's cancellation) says nothing about the upstream; a
                // probe that ends so opens the circuit again, so that the next request may probe after a cool-down.
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is null
                    ? args.Outcome.Result.Verdict == UpstreamVerdict.Failed
                    : _state.CircuitState == CircuitState.HalfOpen),
                StateProvider = _state,
                ManualControl = _control,
                OnOpened = args =>
                {
                    lock (_gate)
                    {
                        _openUntil = _time.GetUtcNow() + args.BreakDuration;
                    }

                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    lock (_gate)
                    {
                        _openUntil = null;
                    }

                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>The breaker's state (closed, open, half-open), as Polly's state provider reports it.</summary>
    public CircuitState CircuitState => _state.CircuitState;

    /// <summary>
    /// Asks through the breaker: null when it refuses (the upstream is cooling down, or another request is probing
    /// it), else the verdict, which the breaker and the health view record. An upstream held for a Retry-After is
    /// not asked: that is a failure with the time left.
    /// </summary>
    public async Task<UpstreamJudgement?> TryAskAsync(Func<CancellationToken, Task<UpstreamJudgement>> ask, CancellationToken cancellationToken)
    {
        var outcome = await ExecuteAsync(ask, cancellationToken);
        if (outcome.Exception is BrokenCircuitException)
        {
            return null;
        }

        outcome.ThrowIfException();
        var judgement = outcome.Result;
        if (judgement.Verdict == UpstreamVerdict.Failed && _state.CircuitState == CircuitState.Closed)
        {
            await CountOnceMoreAsync(judgement, cancellationToken);
        }

        Record(judgement);
        return judgement;
    }

    /// <summary>
    /// Asks past an open circuit (the last resort, when every other upstream failed): an answer closes the circuit, a
    /// failure leaves it open as it is. An upstream held for a Retry-After is still not asked.
    /// </summary>
    public async Task<UpstreamJudgement> AskRegardlessAsync(Func<CancellationToken, Task<UpstreamJudgement>> ask, CancellationToken cancellationToken)
    {
        var judgement = HeldOrNull() ?? await ask(cancellationToken);
        if (judgement.Verdict != UpstreamVerdict.Failed && _state.CircuitState != CircuitState.Closed)
        {
            await _control.CloseAsync(cancellationToken);
        }

        Record(judgement);
        return judgement;
    }

    public UpstreamHealthSnapshot Snapshot()
    {
        var circuit = _state.CircuitState;
        lock (_gate)
        {
            return new UpstreamHealthSnapshot(
                !_asked ? UpstreamState.Unknown : circuit == CircuitState.Closed ? UpstreamState.Up : UpstreamState.Down,
                _lastError,
                _lastErrorAt,
                _latency,
                _smoothedMilliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
                circuit != CircuitState.Closed && _openUntil > _time.GetUtcNow() ? _openUntil : null);
        }
    }

    private async Task<Outcome<UpstreamJudgement>> ExecuteAsync(Func<CancellationToken, Task<UpstreamJudgement>> ask, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await _breaker.ExecuteOutcomeAsync(
                async (context, ask) =>
                {
                    try
                    {
                        var judgement = HeldOrNull() ?? await ask(context.CancellationToken);
                        if (judgement.RetryAfter is { } wait)
                        {
                            context.Properties.Set(RetryAfterKey, wait);
                        }

                        return Outcome.FromResult(judgement);
                    }
                    catch (Exception e)
                    {
                        return Outcome.FromException<UpstreamJudgement>(e);
                    }
                },
                context,
                ask);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>
    /// Polly's breaker decides on a sample of at least two outcomes (<c>MinimumThroughput</c> cannot be 1); this
    /// mirror marks an upstream down on its first failure, so a failure that left the circuit closed (an empty sample
    /// before it) is counted once more, with the same Retry-After.
    /// </summary>
    private async Task CountOnceMoreAsync(UpstreamJudgement failure, CancellationToken cancellationToken)
    {
        var outcome = await ExecuteAsync(_ => Task.FromResult(failure), cancellationToken);
        if (outcome.Exception is not BrokenCircuitException)
        {
            outcome.ThrowIfException();
        }
    }

    /// <summary>A failure with the time left while the upstream is held for its Retry-After; null when it is not held.</summary>
    private UpstreamJudgement? HeldOrNull()
    {
        lock (_gate)
        {
            var wait = _heldUntil - _time.GetUtcNow();
            return wait > TimeSpan.Zero
                ? UpstreamJudgement.Failed($"{_name} asked us to wait {Math.Ceiling(wait.TotalSeconds):0} s (Retry-After)", wait)
                : null;
        }
    }

    private void Record(UpstreamJudgement judgement)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            _asked = true;
            if (judgement.Verdict != UpstreamVerdict.Answered)
            {
                _lastError = judgement.Error;
                _lastErrorAt = now;
            }

            if (judgement.Verdict != UpstreamVerdict.Failed)
            {
                _latency = judgement.Latency;
                _smoothedMilliseconds = _smoothedMilliseconds is { } previous
                    ? previous + (Smoothing * (judgement.Latency.TotalMilliseconds - previous))
                    : judgement.Latency.TotalMilliseconds;
            }
            else if (judgement.RetryAfter is { } wait && now + wait > _heldUntil)
            {
                _heldUntil = now + wait; // held: not even a last resort asks it until then
            }
        }
    }
}
