using OrleansCrates.Protocol;
using OrleansCrates.Upstream;

namespace OrleansCrates.Cli.Commands;

/// <summary>
/// Another sparse registry that <c>verify --against</c> and <c>verify-lock</c> compare with, asked through the same
/// failover as the mirror's upstreams (<see cref="UpstreamFailover"/> with this one upstream), so it is asked as
/// politely: a 429/503's Retry-After holds it, and the checks that come up meanwhile say "could not compare" at once
/// instead of sending it more requests.
/// </summary>
internal sealed class OtherRegistry(UpstreamRegistry registry) : IDisposable
{
    // With one upstream the cool-down only shows in its state: a lone upstream is asked anyway, unless held.
    private readonly UpstreamFailover _failover = new([registry], UpstreamCircuit.ShortestCooldown, TimeProvider.System);

    public Uri IndexUrl => registry.IndexUrl;

    /// <summary>The crate's index file there (its own attempts for network errors and 5xx); a failure says why.</summary>
    public async Task<IndexFetchResult> FetchCrateIndexAsync(CrateName name, CancellationToken cancellationToken)
    {
        var walk = await _failover.AskAsync(
            async (upstream, budget, ct) =>
            {
                var result = await upstream.FetchCrateIndexAsync(name, null, null, budget, ct);
                return (result, result.Status == IndexFetchStatus.Failed
                    ? UpstreamJudgement.Failed(result.Error ?? "failed", result.RetryAfter)
                    : UpstreamJudgement.Answered(TimeSpan.Zero));
            },
            cancellationToken);
        return walk.Answer?.Result ?? walk.Failures switch
        {
            [var only, ..] => only.Result ?? IndexFetchResult.Failure(only.Judgement.Error ?? "failed", only.Judgement.RetryAfter),
            [] => IndexFetchResult.Failure("not asked"),
        };
    }

    public void Dispose() => _failover.Dispose();
}
