using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Upstream;

namespace OrleansCrates.Toolchains;

/// <summary>How a small file's fetch went (<see cref="ToolchainUpstreams.FetchSmallAsync"/>).</summary>
public enum SmallFetchStatus
{
    Ok,

    /// <summary>The dist server answered 404: the file does not exist there.</summary>
    NotFound,

    /// <summary>No dist server answered with the file (down, 5xx, too large, broken transfer): never "not found".</summary>
    Failed,
}

/// <summary>A small file from a dist server, and which one (<see cref="Upstream"/>).</summary>
public sealed record SmallFetch(SmallFetchStatus Status, byte[]? Body, string? Upstream, string? Error, TimeSpan? RetryAfter = null);

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

    /// <summary>
    /// A small file (manifest, checksum, signature, metadata) of at most <paramref name="maxBytes"/>, from the first
    /// dist server that answers, or — <paramref name="from"/> — from that one only (a manifest and its signature come
    /// from the server that gave its <c>.sha256</c>). Its size is checked before memory is spent on it; the result names
    /// the server. A 404 is authoritative; a body larger than the limit is that server's failure.
    /// </summary>
    public async Task<SmallFetch> FetchSmallAsync(string path, long maxBytes, string? from, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        TimeSpan? retryAfter = null;
        var candidates = from is null ? Candidates() : All.Where(u => u.Name == from).Select(u => (u, u.DefaultBudget)).Take(1);
        foreach (var (upstream, budget) in candidates)
        {
            var started = _time.GetTimestamp();
            string error;
            await using (var download = await upstream.DownloadFileAsync(path, budget, cancellationToken))
            {
                switch (download.Status)
                {
                    case DownloadStatus.NotFound:
                        upstream.Health.RecordAnswer(_time.GetElapsedTime(started));
                        return new SmallFetch(SmallFetchStatus.NotFound, null, upstream.Name, $"{upstream.Name}: {path} not found");
                    case DownloadStatus.Ok:
                        var body = await ReadBoundedAsync(download, maxBytes, cancellationToken);
                        if (body.Bytes is { } bytes)
                        {
                            upstream.Health.RecordAnswer(_time.GetElapsedTime(started));
                            return new SmallFetch(SmallFetchStatus.Ok, bytes, upstream.Name, null);
                        }

                        error = body.Error!;
                        break;
                    default:
                        error = download.Error ?? "failed";
                        retryAfter = download.RetryAfter ?? retryAfter;
                        break;
                }
            }

            upstream.Health.RecordFailure(error, _cooldown);
            LogUpstreamFailed(_logger, upstream.Name, path, error);
            errors.Add($"{upstream.Name}: {error}");
        }

        return new SmallFetch(SmallFetchStatus.Failed, null, null, errors.Count == 0 ? $"no dist server named {from}" : string.Join("; ", errors), retryAfter);
    }

    /// <summary>A body of at most <paramref name="maxBytes"/>: the announced length is checked first, then the bytes as they come.</summary>
    private static async Task<(byte[]? Bytes, string? Error)> ReadBoundedAsync(UpstreamDownload download, long maxBytes, CancellationToken cancellationToken)
    {
        if (download.ContentLength > maxBytes)
        {
            return (null, $"{download.ContentLength} bytes announced, more than the {maxBytes} accepted");
        }

        try
        {
            if (download.ContentLength is { } length)
            {
                var exact = new byte[length];
                await download.Body!.ReadExactlyAsync(exact, cancellationToken);
                return await download.Body!.ReadAsync(new byte[1], cancellationToken) == 0
                    ? (exact, null)
                    : (null, $"more bytes than the {length} announced");
            }

            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await download.Body!.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (null, $"more than the {maxBytes} bytes accepted");
                }

                buffer.Write(chunk, 0, read);
            }

            return (buffer.ToArray(), null);
        }
        catch (EndOfStreamException)
        {
            return (null, "fewer bytes than announced");
        }
        catch (Exception e) when (e is IOException or HttpRequestException or TimeoutException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (null, $"the transfer broke off: {e.Message}");
        }
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
