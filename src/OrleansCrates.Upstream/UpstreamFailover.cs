namespace OrleansCrates.Upstream;

/// <summary>One upstream asked for one request: what it returned (none when it was held and not asked) and the verdict.</summary>
public readonly record struct UpstreamAttempt<T>(UpstreamRegistry Upstream, T? Result, UpstreamJudgement Judgement);

/// <summary>
/// How one request's walk over the upstreams ended: the attempt that was answered (null when none was), and every
/// attempt that was not, in the order asked.
/// </summary>
public sealed record FailoverResult<T>(UpstreamAttempt<T>? Answer, IReadOnlyList<UpstreamAttempt<T>> Failures)
{
    /// <summary>The shortest Retry-After of the failures, when every one of them gave one; else null.</summary>
    public TimeSpan? ShortestRetryAfter(Func<UpstreamAttempt<T>, bool>? among = null)
    {
        var waits = Failures.Where(among ?? (_ => true)).Select(f => f.Judgement.RetryAfter).ToList();
        return waits.Count > 0 && waits.All(w => w is not null) ? waits.Min() : null;
    }
}

/// <summary>
/// The configured upstreams of one mirror (the crate registries, or rustup's dist servers), in order of preference,
/// and the one place that fails over between them. Each request walks the list: an upstream that fails (refused,
/// reset, slower than its timeout, 5xx, 429, or a file that is missing or bad) hands the request to the next one.
/// Each upstream has a circuit breaker (<see cref="UpstreamCircuit"/>) that is its cool-down: a failure opens it, so
/// later requests skip that upstream for <c>Mirror:UpstreamCooldown</c> (longer when it sent a Retry-After), and when
/// the circuit half-opens one request probes it. Upstreams whose circuits are open are still asked, in order, when
/// every other one failed, so a request never fails without asking anyone (except upstreams held for a
/// Retry-After, which nobody asks until it is over). With several upstreams each is asked once per request
/// (<see cref="AttemptBudget.Once"/>: no retries, no waiting) so the next one answers quickly; a single upstream keeps
/// its <see cref="UpstreamRegistry.DefaultBudget"/>. Nothing here talks to an upstream at start-up.
/// </summary>
public sealed class UpstreamFailover : IDisposable
{
    private readonly UpstreamCircuit[] _circuits;

    public UpstreamFailover(IReadOnlyList<UpstreamRegistry> upstreams, TimeSpan cooldown, TimeProvider time)
    {
        All = upstreams;
        _circuits = [.. upstreams.Select(u => new UpstreamCircuit(u.Name, cooldown, time))];
    }

    public IReadOnlyList<UpstreamRegistry> All { get; }

    /// <summary>The first upstream.</summary>
    public UpstreamRegistry Primary => All[0];

    /// <summary>Each upstream's state on this node, in order, for the health output: its breaker's state and the project's view.</summary>
    public IReadOnlyList<UpstreamStatus> Status() =>
        [.. All.Select((u, i) => new UpstreamStatus(u.Name, u.IndexUrl, _circuits[i].Snapshot()))];

    /// <summary>
    /// Walks the upstreams for one request: <paramref name="ask"/> asks one upstream within the given budget and
    /// judges what it got; the walk ends at the first <see cref="UpstreamVerdict.Answered"/>. Only the caller's
    /// cancellation throws.
    /// </summary>
    /// <param name="only">
    /// Ask only the upstream of this name (a file that must come from the same server as another, such as a rustup
    /// manifest and the <c>.sha256</c> it was checked against); no failures and no answer when none has that name.
    /// </param>
    public async Task<FailoverResult<T>> AskAsync<T>(
        Func<UpstreamRegistry, AttemptBudget, CancellationToken, Task<(T Result, UpstreamJudgement Judgement)>> ask,
        CancellationToken cancellationToken,
        string? only = null)
    {
        var failures = new List<UpstreamAttempt<T>>();
        List<int>? open = null;
        for (var i = 0; i < All.Count; i++)
        {
            if (only is not null && !string.Equals(All[i].Name, only, StringComparison.Ordinal))
            {
                continue;
            }

            var (upstream, budget) = (All[i], BudgetFor(All[i]));
            T? result = default;
            var judgement = await _circuits[i].TryAskAsync(async ct => Keep(await ask(upstream, budget, ct), out result), cancellationToken);
            if (judgement is null)
            {
                (open ??= []).Add(i); // cooling down, or another request is probing it
                continue;
            }

            var attempt = new UpstreamAttempt<T>(upstream, result, judgement.Value);
            if (judgement.Value.Verdict == UpstreamVerdict.Answered)
            {
                return new FailoverResult<T>(attempt, failures);
            }

            failures.Add(attempt);
        }

        foreach (var i in open ?? [])
        {
            var (upstream, budget) = (All[i], BudgetFor(All[i]));
            T? result = default;
            var judgement = await _circuits[i].AskRegardlessAsync(async ct => Keep(await ask(upstream, budget, ct), out result), cancellationToken);
            var attempt = new UpstreamAttempt<T>(upstream, result, judgement);
            if (judgement.Verdict == UpstreamVerdict.Answered)
            {
                return new FailoverResult<T>(attempt, failures);
            }

            failures.Add(attempt);
        }

        return new FailoverResult<T>(null, failures);
    }

    public void Dispose()
    {
        foreach (var upstream in All)
        {
            upstream.Dispose();
        }
    }

    private AttemptBudget BudgetFor(UpstreamRegistry upstream) => All.Count == 1 ? upstream.DefaultBudget : AttemptBudget.Once;

    private static UpstreamJudgement Keep<T>((T Result, UpstreamJudgement Judgement) asked, out T? result)
    {
        result = asked.Result;
        return asked.Judgement;
    }
}
