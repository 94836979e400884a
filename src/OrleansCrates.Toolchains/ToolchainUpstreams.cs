using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
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

    /// <summary>
    /// A small file (manifest, checksum, signature, metadata) of at most <paramref name="maxBytes"/>, from the first
    /// dist server that answers, or — <paramref name="from"/> — from that one only (a manifest and its signature come
    /// from the server that gave its <c>.sha256</c>). Its size is checked before memory is spent on it; the result names
    /// the server. A 404 is authoritative; a body larger than the limit is that server's failure.
    /// </summary>
    public async Task<SmallFetch> FetchSmallAsync(string path, long maxBytes, string? from, CancellationToken cancellationToken)
    {
        var walk = await _failover.AskAsync(
            async (upstream, budget, ct) =>
            {
                var started = _time.GetTimestamp();
                string error;
                TimeSpan? retryAfter = null;
                await using (var download = await upstream.DownloadFileAsync(path, budget, ct))
                {
                    switch (download.Status)
                    {
                        case DownloadStatus.NotFound:
                            return (new SmallFetch(SmallFetchStatus.NotFound, null, upstream.Name, $"{upstream.Name}: {path} not found"), UpstreamJudgement.Answered(_time.GetElapsedTime(started)));
                        case DownloadStatus.Ok:
                            var body = await ReadBoundedAsync(download, maxBytes, ct);
                            if (body.Bytes is { } bytes)
                            {
                                return (new SmallFetch(SmallFetchStatus.Ok, bytes, upstream.Name, null), UpstreamJudgement.Answered(_time.GetElapsedTime(started)));
                            }

                            error = body.Error!;
                            break;
                        default:
                            error = download.Error ?? "failed";
                            retryAfter = download.RetryAfter; // a 429/503's: holds the server
                            break;
                    }
                }

                LogUpstreamFailed(_logger, upstream.Name, path, error);
                return ((SmallFetch?)null, UpstreamJudgement.Failed(error, retryAfter));
            },
            cancellationToken,
            only: from);

        if (walk.Answer is { Result: { } answered })
        {
            return answered;
        }

        return new SmallFetch(
            SmallFetchStatus.Failed,
            null,
            null,
            walk.Failures.Count == 0 ? $"no dist server named {from}" : string.Join("; ", walk.Failures.Select(f => $"{f.Upstream.Name}: {f.Judgement.Error}")),
            walk.Failures.Select(f => f.Judgement.RetryAfter).LastOrDefault(r => r is not null));
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
