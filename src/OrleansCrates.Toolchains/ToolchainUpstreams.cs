using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Upstream;

namespace OrleansCrates.Toolchains;

/// <summary>
/// The configured dist servers (<c>Toolchains:Upstreams:N:Url</c>) in order, on the crate upstreams' HTTP client
/// (<see cref="UpstreamRegistry"/>: User-Agent, concurrency, Retry-After, transfer limits). Each request walks the list:
/// one that fails is skipped by later requests for <c>Mirror:UpstreamCooldown</c>; a 404 is authoritative.
/// </summary>
public sealed partial class ToolchainUpstreams : IDisposable
{
    private readonly TimeSpan _cooldown;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ToolchainUpstreams(IOptions<ToolchainOptions> options, IOptions<MirrorOptions> mirror, TimeProvider time, ILoggerFactory loggers)
    {
        var toolchains = options.Value;
        var policy = new UpstreamPolicy
        {
            Contact = mirror.Value.UserAgentContact,
            MaxConcurrency = mirror.Value.MaxUpstreamConcurrency,
            MaxAttempts = mirror.Value.UpstreamMaxAttempts,
            MaxCrateBytes = toolchains.MaxArchiveBytes,
        };
        All = [.. toolchains.ResolveUpstreams().Select(u => new UpstreamRegistry(
            new UpstreamOptions { IndexUrl = u.Url, Name = u.Name, Timeout = u.Timeout, MinBytesPerSecond = u.MinBytesPerSecond },
            policy,
            time,
            loggers.CreateLogger<UpstreamRegistry>()))];
        _cooldown = mirror.Value.UpstreamCooldown > TimeSpan.Zero ? mirror.Value.UpstreamCooldown : TimeSpan.Zero;
        _time = time;
        _logger = loggers.CreateLogger<ToolchainUpstreams>();
    }

    public IReadOnlyList<UpstreamRegistry> All { get; }

    /// <summary>A small file (manifest, checksum, metadata) from the first dist server that answers; the result names it.</summary>
    public async Task<IndexFetchResult> FetchSmallAsync(string path, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        TimeSpan? retryAfter = null;
        foreach (var (upstream, budget) in Candidates())
        {
            var started = _time.GetTimestamp();
            var result = await upstream.FetchIndexFileAsync(path, null, null, budget, cancellationToken);
            if (result.Status != IndexFetchStatus.Failed)
            {
                upstream.Health.RecordAnswer(_time.GetElapsedTime(started));
                return result with { Upstream = upstream.Name };
            }

            upstream.Health.RecordFailure(result.Error ?? "failed", _cooldown);
            LogUpstreamFailed(_logger, upstream.Name, path, result.Error ?? "failed");
            errors.Add($"{upstream.Name}: {result.Error}");
            retryAfter = result.RetryAfter ?? retryAfter;
        }

        return IndexFetchResult.Failure(string.Join("; ", errors), retryAfter);
    }

    /// <summary>
    /// A file's bytes from the first dist server that delivers good ones: <paramref name="receive"/> takes one server's
    /// download into storage and says how it went; a missing file, a bad one or a broken transfer moves on.
    /// </summary>
    public async Task<ToolchainFetch> DownloadAsync(string path, Func<UpstreamDownload, string, Task<ToolchainFetch>> receive, CancellationToken cancellationToken)
    {
        var failures = new List<ToolchainFetch>();
        foreach (var (upstream, budget) in Candidates())
        {
            var started = _time.GetTimestamp();
            ToolchainFetch outcome;
            await using (var download = await upstream.DownloadFileAsync(path, budget, cancellationToken))
            {
                outcome = download.Status switch
                {
                    DownloadStatus.Ok => await receive(download, upstream.Name),
                    DownloadStatus.NotFound => new ToolchainFetch(ToolchainFetchStatus.NotFound, $"{upstream.Name}: {path} not found"),
                    _ => ToolchainFetch.Unavailable($"{upstream.Name}: {download.Error}", download.RetryAfter),
                };
            }

            if (outcome.Status is ToolchainFetchStatus.Stored or ToolchainFetchStatus.StorageUnavailable)
            {
                upstream.Health.RecordAnswer(_time.GetElapsedTime(started));
                return outcome;
            }

            if (outcome.Status == ToolchainFetchStatus.Unavailable)
            {
                upstream.Health.RecordFailure(outcome.Error ?? "failed", _cooldown);
            }

            LogUpstreamFailed(_logger, upstream.Name, path, outcome.Error ?? outcome.Status.ToString());
            failures.Add(outcome);
        }

        return failures switch
        {
            [] => ToolchainFetch.Unavailable("no dist server configured"),
            [var only] => only,
            _ => failures.FirstOrDefault(f => f.Status == ToolchainFetchStatus.Unavailable) is { } unavailable
                ? unavailable with { Error = string.Join("; ", failures.Select(f => f.Error)) }
                : failures[0] with { Error = string.Join("; ", failures.Select(f => f.Error)) },
        };
    }

    public void Dispose()
    {
        foreach (var upstream in All)
        {
            upstream.Dispose();
        }
    }

    private IEnumerable<(UpstreamRegistry Upstream, AttemptBudget Budget)> Candidates()
    {
        if (All.Count == 1)
        {
            yield return (All[0], All[0].DefaultBudget);
            yield break;
        }

        var coolingDown = new List<UpstreamRegistry>();
        foreach (var upstream in All)
        {
            if (upstream.Health.TryClaim(_cooldown))
            {
                yield return (upstream, AttemptBudget.Once);
            }
            else
            {
                coolingDown.Add(upstream);
            }
        }

        foreach (var upstream in coolingDown)
        {
            yield return (upstream, AttemptBudget.Once);
        }
    }
}
