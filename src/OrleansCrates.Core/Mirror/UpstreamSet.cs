using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Telemetry;
using OrleansCrates.Protocol;
using OrleansCrates.Upstream;

namespace OrleansCrates.Core.Mirror;

/// <summary>
/// The configured upstream registries, in order of preference, and the one place that fails over between them.
/// Each request walks the list: an upstream that fails (refused, reset, slower than its timeout, 5xx, 429, or a
/// download that is missing or bad) hands the request to the next one, and is skipped by later requests for
/// <see cref="MirrorOptions.UpstreamCooldown"/>; the first request after that probes it again. Upstreams that are
/// cooling down are still asked, in order, when every other one failed, so a request never fails without asking
/// anyone. An index upstream that answers 404/410/451 is authoritative: the crate does not exist, and nobody else is
/// asked. With several upstreams each is asked once per request (no retries, no waiting out Retry-After) so the next
/// one answers quickly; a single upstream keeps <see cref="MirrorOptions.UpstreamMaxAttempts"/>.
/// Nothing here talks to an upstream at start-up.
/// </summary>
public sealed partial class UpstreamSet : IDisposable
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _cooldown;
    private readonly ILogger _logger;
    private readonly OrleansCratesMetrics _metrics;

    /// <summary>
    /// The configured upstreams. Their HTTP clients come from <paramref name="clients"/> when the host registered them
    /// (<see cref="UpstreamHttp.AddUpstreamHttpClients"/>, done by the mirror's core), else each upstream makes its own.
    /// </summary>
    public UpstreamSet(IOptions<MirrorOptions> options, TimeProvider time, ILoggerFactory loggers, OrleansCratesMetrics? metrics = null, IHttpClientFactory? clients = null)
    {
        var mirror = options.Value;
        var policy = mirror.ToUpstreamPolicy();
        All = [.. mirror.ResolveUpstreams().Select(u => new UpstreamRegistry(u, policy, time, loggers.CreateLogger<UpstreamRegistry>(), clients))];
        _time = time;
        _cooldown = mirror.UpstreamCooldown > TimeSpan.Zero ? mirror.UpstreamCooldown : TimeSpan.Zero;
        _logger = loggers.CreateLogger<UpstreamSet>();
        _metrics = metrics ?? OrleansCratesMetrics.Unobserved;
    }

    public IReadOnlyList<UpstreamRegistry> All { get; }

    /// <summary>The first upstream: the one a stored index without an <see cref="StoredIndex.Upstream"/> came from.</summary>
    public UpstreamRegistry Primary => All[0];

    /// <summary>Each upstream's state on this node, in order, for the health output.</summary>
    public IReadOnlyList<UpstreamStatus> Status() =>
        [.. All.Select(u => new UpstreamStatus(u.Name, u.IndexUrl, u.Health.Snapshot()))];

    /// <summary>
    /// Fetches a crate's index file from the first upstream that answers with one (a 200 whose body is not index lines
    /// for that crate is that upstream failing, see <see cref="IndexBodyCheck"/>). The validators of <paramref name="known"/> go only
    /// to the upstream that issued them; any other upstream is asked unconditionally. The result names the upstream
    /// that answered (<see cref="IndexFetchResult.Upstream"/>); a failure means every upstream was asked and failed.
    /// </summary>
    public async Task<IndexFetchResult> FetchIndexFileAsync(CrateName crate, StoredIndex? known, CancellationToken cancellationToken)
    {
        var relativePath = crate.IndexPath;
        var issuer = known is null ? null : known.Upstream ?? Primary.Name;
        List<(UpstreamRegistry Upstream, IndexFetchResult Result)>? failures = null;
        foreach (var (upstream, budget) in Candidates())
        {
            var validators = known is not null && string.Equals(issuer, upstream.Name, StringComparison.Ordinal) ? known : null;
            var started = _time.GetTimestamp();
            var span = OrleansCratesTracing.StartUpstreamRequest(upstream.Name, crate.Value, version: null);
            var result = await upstream.FetchCrateIndexAsync(
                crate, validators?.UpstreamETag, validators?.UpstreamLastModified, budget, cancellationToken);
            var answer = result.Status switch
            {
                IndexFetchStatus.Modified or IndexFetchStatus.NotModified => UpstreamResult.Ok,
                IndexFetchStatus.NotFound => UpstreamResult.NotFound,
                _ => FailureKind(result.Error),
            };
            _metrics.UpstreamRequest(upstream.Name, download: false, answer, _time.GetElapsedTime(started));
            OrleansCratesTracing.End(span, answer, result.Error);
            if (result.Status != IndexFetchStatus.Failed)
            {
                upstream.Health.RecordAnswer(_time.GetElapsedTime(started));
                return result with { Upstream = upstream.Name };
            }

            var error = result.Error ?? "failed";
            upstream.Health.RecordFailure(error, _cooldown);
            (failures ??= []).Add((upstream, result));
            if (All.Count > 1)
            {
                LogUpstreamFailed(_logger, upstream.Name, relativePath, error);
            }
        }

        if (failures is not [_, _, ..])
        {
            return failures is [var only] ? only.Result : IndexFetchResult.Failure("no upstream configured");
        }

        return IndexFetchResult.Failure(
            string.Join("; ", failures.Select(f => $"{f.Upstream.Name}: {f.Result.Error}")),
            ShortestRetryAfter(failures.Select(f => f.Result.RetryAfter)));
    }

    /// <summary>
    /// Gets one crate file from the first upstream that delivers good bytes. <paramref name="receive"/> consumes one
    /// upstream's download (hashing it into an uncommitted upload and committing only when it matches the index
    /// checksum) and says how that went; a missing file, a bad file or a broken transfer moves on to the next upstream.
    /// </summary>
    internal async Task<FetchOutcome> DownloadAsync(
        CrateName name, IndexLine line, Func<UpstreamDownload, Task<FetchOutcome>> receive, CancellationToken cancellationToken)
    {
        List<(UpstreamRegistry Upstream, FetchOutcome Outcome)>? failures = null;
        foreach (var (upstream, budget) in Candidates())
        {
            var started = _time.GetTimestamp();
            FetchOutcome outcome;
            TimeSpan latency;
            var span = OrleansCratesTracing.StartUpstreamRequest(upstream.Name, name.Value, line.Version); // the storage write nests under it
            await using (var download = await upstream.DownloadAsync(name, line, budget, cancellationToken))
            {
                latency = _time.GetElapsedTime(started);
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
                upstream.Health.RecordAnswer(latency);
                return outcome;
            }

            var error = outcome.Error ?? outcome.Status.ToString();
            if (outcome.Status == CrateFileStatus.UpstreamUnavailable)
            {
                upstream.Health.RecordFailure(error, _cooldown);
            }
            else
            {
                upstream.Health.RecordBadContent(error, latency); // it answers; this one file is not usable from it
            }

            (failures ??= []).Add((upstream, outcome));
            if (All.Count > 1)
            {
                LogUpstreamFailed(_logger, upstream.Name, $"{name} {line.Version}", error);
            }
        }

        if (failures is null or [])
        {
            return new FetchOutcome(CrateFileStatus.UpstreamUnavailable, "no upstream configured", TimeSpan.FromSeconds(5));
        }

        if (failures is [var single])
        {
            return single.Outcome;
        }

        // Retrying later helps only if some upstream failed to answer rather than answered with a bad file.
        var unavailable = failures.Where(f => f.Outcome.Status == CrateFileStatus.UpstreamUnavailable).ToList();
        return new FetchOutcome(
            unavailable.Count > 0 ? CrateFileStatus.UpstreamUnavailable : CrateFileStatus.BadUpstreamFile,
            string.Join("; ", failures.Select(f => $"{f.Upstream.Name}: {f.Outcome.Error}")),
            unavailable.Count > 0 ? ShortestRetryAfter(unavailable.Select(f => f.Outcome.RetryAfter)) : null);
    }

    public void Dispose()
    {
        foreach (var upstream in All)
        {
            upstream.Dispose();
        }
    }

    /// <summary>
    /// The upstreams one request asks, in order, each claimed only when the previous one has failed: first those not
    /// cooling down (a cool-down that has ended makes this request the probe), then, as a last resort, those that are.
    /// </summary>
    private IEnumerable<(UpstreamRegistry Upstream, AttemptBudget Budget)> Candidates()
    {
        if (All.Count == 1)
        {
            yield return (Primary, Primary.DefaultBudget);
            yield break;
        }

        List<UpstreamRegistry>? coolingDown = null;
        foreach (var upstream in All)
        {
            if (upstream.Health.TryClaim(_cooldown))
            {
                yield return (upstream, AttemptBudget.Once);
            }
            else
            {
                (coolingDown ??= []).Add(upstream);
            }
        }

        foreach (var upstream in coolingDown ?? [])
        {
            yield return (upstream, AttemptBudget.Once);
        }
    }

    /// <summary>A failure is a timeout when the upstream client says so (its errors end in "timed out" for those).</summary>
    private static UpstreamResult FailureKind(string? error) =>
        error is not null && error.Contains("timed out", StringComparison.OrdinalIgnoreCase) ? UpstreamResult.Timeout : UpstreamResult.Error;

    private static TimeSpan? ShortestRetryAfter(IEnumerable<TimeSpan?> retryAfters)
    {
        var all = retryAfters.ToList();
        return all.All(r => r is not null) ? all.Min() : null;
    }
}

/// <summary>One upstream as the health output shows it.</summary>
public sealed record UpstreamStatus(string Name, Uri IndexUrl, UpstreamHealthSnapshot Health);
