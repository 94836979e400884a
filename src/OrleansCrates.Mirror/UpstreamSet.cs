using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Protocol;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

/// <summary>
/// The configured upstream registries (<c>Mirror:Upstreams</c>), in order of preference, on the Upstream project's
/// failover (<see cref="UpstreamFailover"/>: a circuit breaker per upstream for the cool-down, the next upstream asked
/// instead of a retry). This class says what a crate's index file and a crate file are asked for and how each answer
/// is judged: an index upstream that answers 404/410/451 is authoritative (the crate does not exist, and nobody else
/// is asked); a download that is missing or has the wrong bytes moves on without marking the upstream down. Every
/// upstream asked is measured (metrics and a span).
/// </summary>
public sealed partial class UpstreamSet : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OrleansCratesMetrics _metrics;
    private readonly UpstreamFailover _failover;

    /// <summary>
    /// The configured upstreams. Their HTTP clients come from <paramref name="clients"/> when the host registered them
    /// (<see cref="UpstreamHttp.AddUpstreamHttpClients"/>, done by the mirror's core), else each upstream makes its own.
    /// </summary>
    public UpstreamSet(IOptions<MirrorOptions> options, TimeProvider time, ILoggerFactory loggers, OrleansCratesMetrics? metrics = null, IHttpClientFactory? clients = null)
    {
        var mirror = options.Value;
        var policy = mirror.ToUpstreamPolicy();
        _failover = new UpstreamFailover(
            [.. mirror.ResolveUpstreams().Select(u => new UpstreamRegistry(u, policy, time, loggers.CreateLogger<UpstreamRegistry>(), clients))],
            mirror.UpstreamCooldown,
            time);
        _time = time;
        _logger = loggers.CreateLogger<UpstreamSet>();
        _metrics = metrics ?? OrleansCratesMetrics.Unobserved;
    }

    public IReadOnlyList<UpstreamRegistry> All => _failover.All;

    /// <summary>The first upstream: the one a stored index without an <see cref="StoredIndex.Upstream"/> came from.</summary>
    public UpstreamRegistry Primary => _failover.Primary;

    /// <summary>Each upstream's state on this node, in order, for the health output (its circuit breaker's state; asks no upstream).</summary>
    public IReadOnlyList<UpstreamStatus> Status() => _failover.Status();

    /// <summary>
    /// Fetches a crate's index file from the first upstream that answers with one (a 200 whose body is not index lines
    /// for that crate is that upstream failing, see <see cref="IndexBodyCheck"/>). The validators of <paramref name="known"/> go only
    /// to the upstream that issued them; any other upstream is asked unconditionally. The result names the upstream
    /// that answered (<see cref="IndexFetchResult.Upstream"/>); a failure means every upstream was asked and failed.
    /// </summary>
    public async Task<IndexFetchResult> FetchIndexFileAsync(CrateName crate, StoredIndex? known, CancellationToken cancellationToken)
    {
        var issuer = known is null ? null : known.Upstream ?? Primary.Name;
        var walk = await _failover.AskAsync(
            async (upstream, budget, ct) =>
            {
                var validators = known is not null && string.Equals(issuer, upstream.Name, StringComparison.Ordinal) ? known : null;
                var started = _time.GetTimestamp();
                var span = OrleansCratesTracing.StartUpstreamRequest(upstream.Name, crate.Value, version: null);
                var result = await upstream.FetchCrateIndexAsync(
                    crate, validators?.UpstreamETag, validators?.UpstreamLastModified, budget, ct);
                var latency = _time.GetElapsedTime(started);
                var answer = result.Status switch
                {
                    IndexFetchStatus.Modified or IndexFetchStatus.NotModified => UpstreamResult.Ok,
                    IndexFetchStatus.NotFound => UpstreamResult.NotFound,
                    _ => FailureKind(result.Error),
                };
                _metrics.UpstreamRequest(upstream.Name, download: false, answer, latency);
                OrleansCratesTracing.End(span, answer, result.Error);
                if (result.Status != IndexFetchStatus.Failed)
                {
                    return (result, UpstreamJudgement.Answered(latency));
                }

                if (All.Count > 1)
                {
                    LogUpstreamFailed(_logger, upstream.Name, crate.IndexPath, result.Error ?? "failed");
                }

                return (result, UpstreamJudgement.Failed(result.Error ?? "failed", result.RetryAfter));
            },
            cancellationToken);

        if (walk.Answer is { } answered)
        {
            return answered.Result! with { Upstream = answered.Upstream.Name };
        }

        return walk.Failures switch
        {
            [] => IndexFetchResult.Failure("no upstream configured"),
            [var only] => only.Result ?? IndexFetchResult.Failure(only.Judgement.Error ?? "failed", only.Judgement.RetryAfter),
            var failures => IndexFetchResult.Failure(
                string.Join("; ", failures.Select(f => $"{f.Upstream.Name}: {f.Judgement.Error}")),
                walk.ShortestRetryAfter()),
        };
    }

    /// <summary>
    /// Gets one crate file from the first upstream that delivers good bytes. <paramref name="receive"/> consumes one
    /// upstream's download (hashing it into an uncommitted upload and committing only when it matches the index
    /// checksum) and says how that went; a missing file, a bad file or a broken transfer moves on to the next upstream.
    /// </summary>
    internal async Task<FetchOutcome> DownloadAsync(
        CrateName name, IndexLine line, Func<UpstreamDownload, Task<FetchOutcome>> receive, CancellationToken cancellationToken)
    {
        var walk = await _failover.AskAsync(
            async (upstream, budget, ct) =>
            {
                var started = _time.GetTimestamp();
                FetchOutcome outcome;
                TimeSpan latency;
                TimeSpan? retryAfter;
                var span = OrleansCratesTracing.StartUpstreamRequest(upstream.Name, name.Value, line.Version); // the storage write nests under it
                await using (var download = await upstream.DownloadAsync(name, line, budget, ct))
                {
                    latency = _time.GetElapsedTime(started);
                    retryAfter = download.RetryAfter; // a 429/503's: holds the upstream
                    outcome = download.Status switch
                    {
                        DownloadStatus.Ok => await receive(download),
                        DownloadStatus.NotFound => new FetchOutcome(
                            CrateFileStatus.BadUpstreamFile, $"no file for {name} {line.Version} (404) although the index lists it", null),
                        _ => new FetchOutcome(CrateFileStatus.UpstreamUnavailable, download.Error, download.RetryAfter ?? TimeSpan.FromSeconds(1)),
                    };
                    var answer = download.Status == DownloadStatus.NotFound ? UpstreamResult.NotFound :
                        outcome.Status is CrateFileStatus.Found or CrateFileStatus.StorageUnavailable ? UpstreamResult.Ok : FailureKind(outcome.Error);
                    _metrics.UpstreamRequest(upstream.Name, download: true, answer, latency);
                    OrleansCratesTracing.End(span, answer, outcome.Error);
                }

                if (outcome.Status is CrateFileStatus.Found or CrateFileStatus.StorageUnavailable)
                {
                    // A file storage could not take is no upstream's failure, and the next upstream would fare no better.
                    return (outcome, UpstreamJudgement.Answered(latency));
                }

                var error = outcome.Error ?? outcome.Status.ToString();
                if (All.Count > 1)
                {
                    LogUpstreamFailed(_logger, upstream.Name, $"{name} {line.Version}", error);
                }

                return (outcome, outcome.Status == CrateFileStatus.UpstreamUnavailable
                    ? UpstreamJudgement.Failed(error, retryAfter)
                    : UpstreamJudgement.BadContent(error, latency)); // it answers; this one file is not usable from it
            },
            cancellationToken);

        if (walk.Answer is { } answered)
        {
            return answered.Result!;
        }

        switch (walk.Failures)
        {
            case []:
                return new FetchOutcome(CrateFileStatus.UpstreamUnavailable, "no upstream configured", TimeSpan.FromSeconds(5));
            case [var only]:
                return only.Result ?? new FetchOutcome(CrateFileStatus.UpstreamUnavailable, only.Judgement.Error, only.Judgement.RetryAfter ?? TimeSpan.FromSeconds(1));
        }

        // Retrying later helps only if some upstream failed to answer rather than answered with a bad file.
        var unavailable = walk.Failures.Where(f => f.Judgement.Verdict == UpstreamVerdict.Failed).ToList();
        return new FetchOutcome(
            unavailable.Count > 0 ? CrateFileStatus.UpstreamUnavailable : CrateFileStatus.BadUpstreamFile,
            string.Join("; ", walk.Failures.Select(f => $"{f.Upstream.Name}: {f.Result?.Error ?? f.Judgement.Error}")),
            unavailable.Count > 0 ? ShortestRetryAfter(unavailable.Select(f => f.Result?.RetryAfter ?? f.Judgement.RetryAfter)) : null);
    }

    public void Dispose() => _failover.Dispose();

    /// <summary>A failure is a timeout when the upstream client says so (its errors end in "timed out" for those).</summary>
    private static UpstreamResult FailureKind(string? error) =>
        error is not null && error.Contains("timed out", StringComparison.OrdinalIgnoreCase) ? UpstreamResult.Timeout : UpstreamResult.Error;

    private static TimeSpan? ShortestRetryAfter(IEnumerable<TimeSpan?> retryAfters)
    {
        var all = retryAfters.ToList();
        return all.All(r => r is not null) ? all.Min() : null;
    }
}
