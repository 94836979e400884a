using System.Buffers;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Polly.Timeout;
using OrleansCrates.Protocol;

namespace OrleansCrates.Upstream;

/// <summary>
/// One upstream sparse registry (or rustup dist server), used politely: every request carries an identifying
/// User-Agent, at most <see cref="UpstreamPolicy.MaxConcurrency"/> requests are in flight, a 429/503 reports its
/// Retry-After (which <see cref="UpstreamFailover"/>'s circuit breaker turns into a hold on this upstream), and index
/// files are revalidated with the stored ETag or Last-Modified. All outcomes, failures included, are values; only
/// cancellation by the caller throws. How hard one request tries (retries) is the caller's <see cref="AttemptBudget"/>,
/// so a caller with another upstream to ask can move on after one attempt.
/// </summary>
public sealed partial class UpstreamRegistry : IDisposable
{
    private const long MaxIndexFileBytes = 64L * 1024 * 1024;

    private readonly UpstreamOptions _options;
    private readonly UpstreamPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _indexClient;
    private readonly HttpClient _downloadClient;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _configLock = new(1, 1);
    private readonly TransferLimits _transferLimits;
    private readonly IDisposable? _ownClients;
    private (RegistryConfig Config, DateTimeOffset FetchedAt)? _config;
    private long _configFailedAtTimestamp = long.MinValue;

    /// <summary>
    /// One upstream. Its HTTP clients come from <paramref name="clients"/>, where the host registered them
    /// (<see cref="UpstreamHttp.AddUpstreamHttpClients"/>, under <paramref name="clientPrefix"/>); without one (the CLI's
    /// verify, tests) from a factory of its own.
    /// </summary>
    public UpstreamRegistry(
        UpstreamOptions options, UpstreamPolicy policy, TimeProvider time, ILogger logger, IHttpClientFactory? clients = null, string clientPrefix = UpstreamHttp.CratesPrefix)
    {
        _options = options;
        _policy = policy;
        _time = time;
        _logger = logger;
        IndexUrl = new Uri(options.IndexUrl.EndsWith('/') ? options.IndexUrl : options.IndexUrl + "/", UriKind.Absolute);
        Name = options.ResolveName();
        _transferLimits = options.ResolveTransferLimits(policy.MaxCrateBytes);
        _slots = new SemaphoreSlim(Math.Max(1, policy.MaxConcurrency));
        if (clients is null)
        {
            var own = UpstreamHttp.CreateServices(options, policy, clientPrefix);
            _ownClients = own;
            clients = own.GetRequiredService<IHttpClientFactory>();
        }

        // Index files may arrive compressed (that is transport, not content); crate files must arrive as raw bytes.
        // Index files follow redirects only within the index's origin; downloads may go to the upstream's CDN.
        _indexClient = clients.CreateClient(UpstreamHttp.IndexClientName(clientPrefix, options));
        _downloadClient = clients.CreateClient(UpstreamHttp.DownloadClientName(clientPrefix, options));
    }

    public string Name { get; }

    public Uri IndexUrl { get; }

    /// <summary>The budget from <see cref="UpstreamPolicy"/>: its attempts.</summary>
    public AttemptBudget DefaultBudget => new(Math.Max(1, _policy.MaxAttempts), true);

    public static string UserAgentFor(string contact)
    {
        var version = typeof(UpstreamRegistry).Assembly.GetName().Version?.ToString(3) ?? "0";
        return string.IsNullOrWhiteSpace(contact)
            ? $"OrleansCrates/{version} (crates mirror; operator contact not configured)"
            : $"OrleansCrates/{version} (crates mirror; +{contact.Trim()})";
    }

    /// <summary>Fetches an index file relative to the index root, conditionally when a validator is given.</summary>
    public Task<IndexFetchResult> FetchIndexFileAsync(string relativePath, string? etag, string? lastModified, CancellationToken cancellationToken) =>
        FetchIndexFileAsync(relativePath, etag, lastModified, DefaultBudget, cancellationToken);

    /// <summary>Fetches an index file relative to the index root, conditionally when a validator is given, within <paramref name="budget"/>.</summary>
    public Task<IndexFetchResult> FetchIndexFileAsync(
        string relativePath, string? etag, string? lastModified, AttemptBudget budget, CancellationToken cancellationToken) =>
        FetchIndexFileAsync(relativePath, null, etag, lastModified, budget, cancellationToken);

    /// <summary>
    /// Fetches the index file of <paramref name="crate"/>, conditionally when a validator is given, within
    /// <paramref name="budget"/>. A 200 whose body is not index lines for that crate (<see cref="IndexBodyCheck"/>) is a
    /// failure of this upstream, never a new copy.
    /// </summary>
    public Task<IndexFetchResult> FetchCrateIndexAsync(
        CrateName crate, string? etag, string? lastModified, AttemptBudget budget, CancellationToken cancellationToken) =>
        FetchIndexFileAsync(crate.IndexPath, crate, etag, lastModified, budget, cancellationToken);

    private async Task<IndexFetchResult> FetchIndexFileAsync(
        string relativePath, CrateName? crate, string? etag, string? lastModified, AttemptBudget budget, CancellationToken cancellationToken)
    {
        var url = new Uri(IndexUrl, relativePath);
        var started = Stopwatch.GetTimestamp();
        var sent = await SendAsync(_indexClient, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (etag is not null)
            {
                request.Headers.TryAddWithoutValidation("If-None-Match", etag);
            }
            else if (lastModified is not null)
            {
                request.Headers.TryAddWithoutValidation("If-Modified-Since", lastModified);
            }

            return request;
        }, budget, cancellationToken);

        if (sent.Response is null)
        {
            return IndexFetchResult.Failure(sent.Error!, sent.RetryAfter);
        }

        try
        {
            using var response = sent.Response;
            switch (response.StatusCode)
            {
                case HttpStatusCode.NotModified when etag is not null || lastModified is not null:
                    return new IndexFetchResult(IndexFetchStatus.NotModified, ETag: etag, LastModified: lastModified);
                case HttpStatusCode.NotFound or HttpStatusCode.Gone or HttpStatusCode.UnavailableForLegalReasons:
                    return new IndexFetchResult(IndexFetchStatus.NotFound);
                case HttpStatusCode.OK:
                    break;
                case >= HttpStatusCode.MultipleChoices and < HttpStatusCode.BadRequest when response.Headers.Location is { } location:
                    // Same-origin redirects were followed already; index files are never taken from another origin.
                    return IndexFetchResult.Failure(
                        $"{url} answered {(int)response.StatusCode} redirecting to {new Uri(url, location).GetLeftPart(UriPartial.Authority)} (not followed: another origin, or too many redirects)");
                default:
                    return IndexFetchResult.Failure($"{url} answered {(int)response.StatusCode}");
            }

            if (response.Content.Headers.ContentLength > MaxIndexFileBytes)
            {
                return IndexFetchResult.Failure($"{url} is larger than {MaxIndexFileBytes} bytes");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.Timeout);
            var body = await ReadBoundedAsync(response.Content, MaxIndexFileBytes, timeout.Token);
            if (body is null)
            {
                return IndexFetchResult.Failure($"{url} is larger than {MaxIndexFileBytes} bytes");
            }

            if (crate is { } expected && IndexBodyCheck.Problem(body, expected) is { } problem)
            {
                return IndexFetchResult.Failure($"{url} answered 200 with {body.Length} bytes that are not its index file ({response.Content.Headers.ContentType?.MediaType ?? "no content type"}): {problem}");
            }

            LogIndexFetched(_logger, Name, relativePath, body.Length, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return new IndexFetchResult(
                IndexFetchStatus.Modified,
                body,
                response.Headers.ETag?.ToString(),
                response.Content.Headers.LastModified?.ToString("R"));
        }
        catch (Exception e) when (IsTransient(e, cancellationToken))
        {
            return IndexFetchResult.Failure($"{url}: {Describe(e)}");
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>The upstream's config.json, reused for <see cref="UpstreamPolicy.ConfigRefreshInterval"/>; on failure the last good copy.</summary>
    public Task<RegistryConfig?> GetConfigOrNullAsync(CancellationToken cancellationToken) =>
        GetConfigOrNullAsync(DefaultBudget, cancellationToken);

    /// <summary>
    /// The upstream's config.json, reused for <see cref="UpstreamPolicy.ConfigRefreshInterval"/>; on failure the last
    /// good copy. Callers that queued behind a fetch that just failed get that outcome instead of asking again, so a dead
    /// upstream costs one timeout, not one per waiting download.
    /// </summary>
    public async Task<RegistryConfig?> GetConfigOrNullAsync(AttemptBudget budget, CancellationToken cancellationToken)
    {
        var cached = _config;
        if (cached is { } c && _time.GetUtcNow() - c.FetchedAt < _policy.ConfigRefreshInterval)
        {
            return c.Config;
        }

        var queuedAt = _time.GetTimestamp();
        await _configLock.WaitAsync(cancellationToken);
        try
        {
            cached = _config;
            if (cached is { } again && _time.GetUtcNow() - again.FetchedAt < _policy.ConfigRefreshInterval)
            {
                return again.Config;
            }

            if (Interlocked.Read(ref _configFailedAtTimestamp) >= queuedAt)
            {
                return cached?.Config;
            }

            var fetched = await FetchIndexFileAsync("config.json", null, null, budget, cancellationToken);
            var config = fetched.Status == IndexFetchStatus.Modified ? RegistryConfig.TryParse(fetched.Body) : null;
            if (config is null)
            {
                Interlocked.Exchange(ref _configFailedAtTimestamp, _time.GetTimestamp());
                LogConfigUnavailable(_logger, Name, fetched.Error ?? $"config.json: {fetched.Status}");
                return cached?.Config;
            }

            _config = (config, _time.GetUtcNow());
            return config;
        }
        finally
        {
            _configLock.Release();
        }
    }

    /// <summary>Starts downloading the file an index line describes, from the host the upstream's config.json names.</summary>
    public Task<UpstreamDownload> DownloadAsync(CrateName name, IndexLine line, CancellationToken cancellationToken) =>
        DownloadAsync(name, line, DefaultBudget, cancellationToken);

    /// <summary>Starts downloading the file an index line describes, within <paramref name="budget"/>.</summary>
    public async Task<UpstreamDownload> DownloadAsync(CrateName name, IndexLine line, AttemptBudget budget, CancellationToken cancellationToken)
    {
        var config = await GetConfigOrNullAsync(budget, cancellationToken);
        if (config is null)
        {
            return UpstreamDownload.Failure($"{Name}: config.json is unavailable, so the download location is unknown");
        }

        if (!Uri.TryCreate(new Uri(IndexUrl, "."), DownloadTemplate.Expand(config.Dl, name, line.Version, line.Checksum), out var url) ||
            url.Scheme is not ("http" or "https"))
        {
            return UpstreamDownload.Failure($"{Name}: dl template '{config.Dl}' does not give an http(s) URL");
        }

        return await DownloadFromAsync(url, budget, cancellationToken);
    }

    /// <summary>
    /// Starts downloading a file at <paramref name="relativePath"/> under this upstream's root (a rustup dist server's
    /// <c>dist/…</c> and <c>rustup/…</c> files), raw bytes, under the same limits as crate files.
    /// </summary>
    public Task<UpstreamDownload> DownloadFileAsync(string relativePath, AttemptBudget budget, CancellationToken cancellationToken) =>
        DownloadFromAsync(new Uri(IndexUrl, relativePath), budget, cancellationToken);

    private async Task<UpstreamDownload> DownloadFromAsync(Uri url, AttemptBudget budget, CancellationToken cancellationToken)
    {
        var sent = await SendAsync(_downloadClient, () => new HttpRequestMessage(HttpMethod.Get, url), budget, cancellationToken);
        if (sent.Response is null)
        {
            return UpstreamDownload.Failure(sent.Error!, sent.RetryAfter);
        }

        var response = sent.Response;
        if (response.StatusCode != HttpStatusCode.OK)
        {
            response.Dispose();
            _slots.Release();
            return response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone
                ? UpstreamDownload.NotFound()
                : UpstreamDownload.Failure($"{url} answered {(int)response.StatusCode}");
        }

        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var owner = new DownloadOwner(response, _slots);
            return UpstreamDownload.Ok(
                new TransferLimitedStream(body, _transferLimits),
                response.Content.Headers.ContentLength,
                response.Content.Headers.ContentType?.MediaType,
                owner);
        }
        catch (Exception e) when (IsTransient(e, cancellationToken))
        {
            response.Dispose();
            _slots.Release();
            return UpstreamDownload.Failure($"{url}: {Describe(e)}");
        }
    }

    public void Dispose()
    {
        _indexClient.Dispose();
        _downloadClient.Dispose();
        _ownClients?.Dispose();
    }

    /// <summary>
    /// Sends through the client's resilience pipeline (<see cref="UpstreamHttp"/>: a timeout per attempt, retries within
    /// <paramref name="budget"/>). A 429/503 is a failure that carries its <c>Retry-After</c> (1 s without one): the
    /// upstream's circuit breaker holds the upstream for it (<see cref="UpstreamCircuit"/>), and nothing here waits.
    /// On success the caller owns the response and one concurrency slot, and must release the slot; on failure nothing
    /// is held.
    /// </summary>
    private async Task<(HttpResponseMessage? Response, string? Error, TimeSpan? RetryAfter)> SendAsync(
        HttpClient client, Func<HttpRequestMessage> createRequest, AttemptBudget budget, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        using var request = createRequest();
        request.Options.Set(UpstreamHttp.Attempts, Math.Max(1, budget.MaxAttempts));
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (Exception e) when (IsTransient(e, cancellationToken))
        {
            _slots.Release();
            var failed = $"{request.RequestUri}: {Describe(e)}";
            LogAttemptFailed(_logger, Name, failed);
            return (null, failed, null);
        }

        var status = (int)response.StatusCode;
        if (status is not 429 and < 500)
        {
            return (response, null, null);
        }

        TimeSpan? retryAfter = null;
        if (status is 429 or 503)
        {
            retryAfter = RetryAfterOf(response) ?? TimeSpan.FromSeconds(1);
        }

        var error = $"{request.RequestUri} answered {status}";
        LogAttemptFailed(_logger, Name, error);
        response.Dispose();
        _slots.Release();
        return (null, error, retryAfter);
    }

    private TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    private static async Task<byte[]?> ReadBoundedAsync(HttpContent content, long limit, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        // Sized by the announced length up to a megabyte (a header alone never reserves more), grown past that as bytes come.
        using var buffer = new MemoryStream((int)Math.Clamp(content.Headers.ContentLength ?? 0, 0, Math.Min(limit, 1024 * 1024)));
        var chunk = ArrayPool<byte>.Shared.Rent(81920); // every cold index miss reads one body: no 80 KB array to clear each time
        try
        {
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    /// <summary>Failures of the upstream or the network (a body that cannot be decoded included), not of this process.</summary>
    private static bool IsTransient(Exception e, CancellationToken callerToken) =>
        e is HttpRequestException or IOException or TimeoutException or InvalidDataException or TimeoutRejectedException ||
        (e is OperationCanceledException && !callerToken.IsCancellationRequested);

    private static string Describe(Exception e) => e is OperationCanceledException or TimeoutRejectedException ? "timed out" : e.Message;

    private sealed class DownloadOwner(HttpResponseMessage response, SemaphoreSlim slots) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                response.Dispose();
                slots.Release();
            }

            return ValueTask.CompletedTask;
        }
    }
}
