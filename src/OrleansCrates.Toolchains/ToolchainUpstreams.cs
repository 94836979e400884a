using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Upstream;

namespace OrleansCrates.Toolchains;

/// <summary>
/// The configured dist servers (<c>Toolchains:Upstreams:N:Url</c>) in order, on the crate upstreams' HTTP client
/// (<see cref="UpstreamRegistry"/>: User-Agent, concurrency, Retry-After, transfer limits; its clients registered with
/// the host's <see cref="IHttpClientFactory"/>, see <see cref="ToolchainServiceCollectionExtensions.AddToolchains"/>)
/// and the same failover as the crate mirror's (<see cref="UpstreamFailover"/>: a circuit breaker per dist server
/// for <c>Mirror:UpstreamCooldown</c>, the next one asked instead of a retry). A 404 is authoritative.
/// </summary>
public sealed partial class ToolchainUpstreams : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly UpstreamFailover _failover;

    public ToolchainUpstreams(
        IOptions<ToolchainOptions> options, IOptions<MirrorOptions> mirror, TimeProvider time, ILoggerFactory loggers, IHttpClientFactory? clients = null)
    {
        var policy = Policy(mirror.Value, options.Value);
        _failover = new UpstreamFailover(
            [.. ResolveUpstreams(options.Value).Select(u => new UpstreamRegistry(
                u, policy, time, loggers.CreateLogger<UpstreamRegistry>(), clients, UpstreamHttp.DistPrefix))],
            mirror.Value.UpstreamCooldown,
            time);
        _time = time;
        _logger = loggers.CreateLogger<ToolchainUpstreams>();
    }

    public IReadOnlyList<UpstreamRegistry> All => _failover.All;

    /// <summary>Each dist server's state on this node (its circuit breaker's state; asks no server).</summary>
    public IReadOnlyList<UpstreamStatus> Status() => _failover.Status();

    /// <summary>The dist servers as upstream options (their HTTP clients are registered from these).</summary>
    public static IReadOnlyList<UpstreamOptions> ResolveUpstreams(ToolchainOptions options) =>
        [.. options.ResolveUpstreams().Select(u => new UpstreamOptions { IndexUrl = u.Url, Name = u.Name, Timeout = u.Timeout, MinBytesPerSecond = u.MinBytesPerSecond })];

    /// <summary>The crate upstreams' policy (User-Agent contact, concurrency, attempts), for files up to <see cref="ToolchainOptions.MaxArchiveBytes"/>.</summary>
    public static UpstreamPolicy Policy(MirrorOptions mirror, ToolchainOptions options) =>
        new()
        {
            Contact = mirror.UserAgentContact,
            MaxConcurrency = mirror.MaxUpstreamConcurrency,
            MaxAttempts = mirror.UpstreamMaxAttempts,
            MaxCrateBytes = options.MaxArchiveBytes,
        };

    /// <summary>A small file (manifest, checksum, metadata) from the first dist server that answers; the result names it.</summary>
    public async Task<IndexFetchResult> FetchSmallAsync(string path, CancellationToken cancellationToken)
    {
        var walk = await _failover.AskAsync(
            async (upstream, budget, ct) =>
            {
                var started = _time.GetTimestamp();
                var result = await upstream.FetchIndexFileAsync(path, null, null, budget, ct);
                if (result.Status != IndexFetchStatus.Failed)
                {
                    return (result, UpstreamJudgement.Answered(_time.GetElapsedTime(started)));
                }

                LogUpstreamFailed(_logger, upstream.Name, path, result.Error ?? "failed");
                return (result, UpstreamJudgement.Failed(result.Error ?? "failed", result.RetryAfter));
            },
            cancellationToken);

        return walk.Answer is { } answered
            ? answered.Result! with { Upstream = answered.Upstream.Name }
            : IndexFetchResult.Failure(
                string.Join("; ", walk.Failures.Select(f => $"{f.Upstream.Name}: {f.Judgement.Error}")),
                walk.Failures.Select(f => f.Judgement.RetryAfter).LastOrDefault(r => r is not null));
    }

    /// <summary>
    /// A file's bytes from the first dist server that delivers good ones: <paramref name="receive"/> takes one server's
    /// download into storage and says how it went; a missing file, a bad one or a broken transfer moves on.
    /// </summary>
    public async Task<ToolchainFetch> DownloadAsync(string path, Func<UpstreamDownload, string, Task<ToolchainFetch>> receive, CancellationToken cancellationToken)
    {
        var walk = await _failover.AskAsync(
            async (upstream, budget, ct) =>
            {
                var started = _time.GetTimestamp();
                ToolchainFetch outcome;
                TimeSpan? retryAfter;
                await using (var download = await upstream.DownloadFileAsync(path, budget, ct))
                {
                    retryAfter = download.RetryAfter; // a 429/503's: holds the server
                    outcome = download.Status switch
                    {
                        DownloadStatus.Ok => await receive(download, upstream.Name),
                        DownloadStatus.NotFound => new ToolchainFetch(ToolchainFetchStatus.NotFound, $"{upstream.Name}: {path} not found"),
                        _ => ToolchainFetch.Unavailable($"{upstream.Name}: {download.Error}", download.RetryAfter),
                    };
                }

                var latency = _time.GetElapsedTime(started);
                if (outcome.Status is ToolchainFetchStatus.Stored or ToolchainFetchStatus.StorageUnavailable)
                {
                    return (outcome, UpstreamJudgement.Answered(latency));
                }

                var error = outcome.Error ?? outcome.Status.ToString();
                LogUpstreamFailed(_logger, upstream.Name, path, error);
                return (outcome, outcome.Status == ToolchainFetchStatus.Unavailable
                    ? UpstreamJudgement.Failed(error, retryAfter)
                    : UpstreamJudgement.BadContent(error, latency)); // it answers; this one file is not usable from it
            },
            cancellationToken);

        if (walk.Answer is { } answered)
        {
            return answered.Result!;
        }

        var failures = walk.Failures
            .Select(f => f.Result ?? ToolchainFetch.Unavailable($"{f.Upstream.Name}: {f.Judgement.Error}", f.Judgement.RetryAfter))
            .ToList();
        return failures switch
        {
            [] => ToolchainFetch.Unavailable("no dist server configured"),
            [var only] => only,
            _ => failures.FirstOrDefault(f => f.Status == ToolchainFetchStatus.Unavailable) is { } unavailable
                ? unavailable with { Error = string.Join("; ", failures.Select(f => f.Error)) }
                : failures[0] with { Error = string.Join("; ", failures.Select(f => f.Error)) },
        };
    }

    public void Dispose() => _failover.Dispose();
}
