using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace OrleansCrates.Testing;

/// <summary>
/// An in-process sparse registry (Kestrel on 127.0.0.1) serving a <see cref="CrateGraph"/> the way
/// index.crates.io and static.crates.io do, with request recording and injectable faults. Cargo can use it
/// directly through source replacement.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private const string IndexPrefix = "/index/";
    private static readonly DateTimeOffset ClockStart = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly FakeUpstreamOptions _options;
    private readonly Lock _gate = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<FaultRule> _faults = [];
    private readonly ConcurrentDictionary<string, int> _indexCounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _downloadCounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string ETag, DateTimeOffset LastModified)> _fileClock = new(StringComparer.Ordinal);
    private DateTimeOffset _clock = ClockStart;
    private int _totalRequests;
    private ServingState _state;
    private WebApplication? _app;
    private CancellationTokenSource _stopping = new();
    private int _port;

    private FakeUpstream(CrateGraph graph, FakeUpstreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options.DlTemplate);
        _options = options;
        _state = BuildState(graph);
    }

    /// <summary>Starts a registry on a free 127.0.0.1 port.</summary>
    public static async Task<FakeUpstream> StartAsync(
        CrateGraph graph,
        FakeUpstreamOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var upstream = new FakeUpstream(graph, options ?? new FakeUpstreamOptions());
        await upstream.StartServerAsync(0, cancellationToken);
        return upstream;
    }

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseUri => new($"http://127.0.0.1:{_port}/");

    /// <summary><c>http://127.0.0.1:PORT/index/</c>; prefix with <c>sparse+</c> for cargo.</summary>
    public string IndexUrl => $"http://127.0.0.1:{_port}/index/";

    /// <summary>The served graph; swap it to simulate a publish or a yank (ETags and Last-Modified follow content).</summary>
    public CrateGraph Graph
    {
        get => Volatile.Read(ref _state).Graph;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            lock (_gate)
            {
                Volatile.Write(ref _state, BuildState(value));
            }
        }
    }

    public FakeUpstreamOptions Options => _options;

    /// <summary>Requests for that crate's index file (name case-insensitive), any status, faults included.</summary>
    public int IndexRequests(string name) =>
        _indexCounts.GetValueOrDefault(IndexPrefix + RegistryPaths.IndexPath(name));

    /// <summary>Download requests for that version (name case-insensitive), any status, faults included.</summary>
    public int Downloads(string name, string version) =>
        _downloadCounts.GetValueOrDefault(DownloadKey(name, version));

    /// <summary>Every request received (counted on arrival).</summary>
    public int TotalRequests => Volatile.Read(ref _totalRequests);

    /// <summary>
    /// A snapshot of the requests with the status they got. A request is added just before its response starts,
    /// so it can lag <see cref="TotalRequests"/> while a request is in flight.
    /// </summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToArray();
            }
        }
    }

    /// <summary>The absolute URL cargo would download <paramref name="crate"/> from.</summary>
    public Uri DownloadUrl(SyntheticCrate crate) => new(ExpandDl(_options.DlTemplate, BaseUri.ToString().TrimEnd('/'), crate));

    /// <summary>The absolute URL of a crate's index file.</summary>
    public Uri IndexFileUrl(string name) => new(IndexUrl + RegistryPaths.IndexPath(name));

    public FaultRule AddFault(FaultRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        lock (_faults)
        {
            _faults.Add(rule);
        }

        return rule;
    }

    /// <summary>Removes every fault rule (stalled responses of removed rules are released).</summary>
    public void ClearFaults()
    {
        FaultRule[] removed;
        lock (_faults)
        {
            removed = [.. _faults];
            _faults.Clear();
        }

        foreach (var rule in removed)
        {
            rule.Release();
        }
    }

    /// <summary>Stops listening; in-flight responses are aborted and new connections are refused.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var app = Interlocked.Exchange(ref _app, null);
        if (app is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            await app.StopAsync(cancellationToken);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync(cancellationToken);
        await StartServerAsync(_port, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        ClearFaults();
        await StopAsync(CancellationToken.None);
        _stopping.Dispose();
    }

    private async Task StartServerAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Run(HandleAsync);

        var previous = _stopping;
        _stopping = new CancellationTokenSource();
        previous.Dispose();

        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
            .Addresses.Single();
        _port = new Uri(address).Port;
        _app = app;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var state = Volatile.Read(ref _state);
        var request = context.Request;
        var path = request.Path.HasValue ? request.Path.Value : "/";
        var rawPath = RawPath(context);

        Interlocked.Increment(ref _totalRequests);
        var lowerPath = path.ToLowerInvariant();
        if (lowerPath.StartsWith(IndexPrefix, StringComparison.Ordinal))
        {
            _indexCounts.AddOrUpdate(lowerPath, 1, (_, n) => n + 1);
        }

        var download = state.FindDownload(path, rawPath);
        if (download is not null)
        {
            _downloadCounts.AddOrUpdate(DownloadKey(download.Name, download.Version), 1, (_, n) => n + 1);
        }

        var response = BuildResponse(state, context, path, download);
        var fault = ClaimFault(path);
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var token = aborted.Token;
        if (_options.ResponseDelay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(_options.ResponseDelay, token); // the simulated network distance, not synchronisation
            }
            catch (OperationCanceledException)
            {
                Record(context, path, 0);
                context.Abort();
                return;
            }
        }

        switch (fault?.Kind)
        {
            case null:
                await SendAsync(context, path, response, token);
                break;
            case FaultKind.Status500:
                await SendAsync(context, path, Fault(500, "injected fault: internal server error"), token);
                break;
            case FaultKind.Status503:
                await SendAsync(context, path, WithRetryAfter(Fault(503, "injected fault: service unavailable"), fault), token);
                break;
            case FaultKind.Status429:
                await SendAsync(context, path, WithRetryAfter(Fault(429, "injected fault: too many requests"), fault), token);
                break;
            case FaultKind.Status404:
                await SendAsync(context, path, Fault(404, "injected fault: not found"), token);
                break;
            case FaultKind.Slow:
                try
                {
                    await Task.Delay(fault.Delay, token);
                }
                catch (OperationCanceledException)
                {
                    Record(context, path, 0);
                    context.Abort();
                    return;
                }

                await SendAsync(context, path, response, token);
                break;
            case FaultKind.Truncated:
                await SendPartAndAbortAsync(context, path, response, token);
                break;
            case FaultKind.WrongBytes:
                await SendAsync(context, path, response with { Body = Inverted(response.Body) }, token);
                break;
            case FaultKind.Reset:
                Record(context, path, 0);
                context.Abort();
                break;
            case FaultKind.HtmlErrorPage:
                await SendAsync(
                    context,
                    path,
                    new Response(
                        200,
                        "text/html; charset=utf-8",
                        Encoding.UTF8.GetBytes(
                            "<!DOCTYPE html>\n<html><head><title>Error</title></head><body><h1>Something went wrong</h1>"
                            + "<p>The upstream is having trouble. Please try again later.</p></body></html>\n"),
                        []),
                    token);
                break;
            case FaultKind.EmptyBody:
                await SendAsync(context, path, response with { Status = 200, Body = [], Headers = [] }, token);
                break;
            case FaultKind.Stall:
                await SendStalledAsync(context, path, response, fault, token);
                break;
            case FaultKind.StallThenWrongBytes:
                var half = response.Body.Length / 2;
                await SendStalledAsync(context, path, response with { Body = [.. response.Body.AsSpan(0, half), .. Inverted(response.Body[half..])] }, fault, token);
                break;
            case FaultKind.Drip:
                await SendDripAsync(context, path, response, fault.Delay, token);
                break;
            case FaultKind.Canned:
                var answer = fault.Answer ?? throw new InvalidOperationException("A Canned fault needs an Answer.");
                var origin = BaseUri.ToString().TrimEnd('/');
                var headers = answer.Headers.Where(h => !h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                    .Select(h => new KeyValuePair<string, string>(h.Key, h.Value.Replace("{base}", origin, StringComparison.Ordinal))).ToList();
                var contentType = answer.Headers.FirstOrDefault(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)).Value;
                await SendAsync(context, path, new Response(answer.Status, contentType, answer.Body, headers), token);
                break;
            default:
                throw new InvalidOperationException($"Unknown fault {fault.Kind}.");
        }
    }

    private FaultRule? ClaimFault(string path)
    {
        lock (_faults)
        {
            foreach (var rule in _faults)
            {
                if (rule.TryClaim(path))
                {
                    return rule;
                }
            }
        }

        return null;
    }

    private Response BuildResponse(ServingState state, HttpContext context, string path, SyntheticCrate? download)
    {
        if (download is not null)
        {
            return new Response(200, "application/octet-stream", download.CrateBytes, []);
        }

        if (path == IndexPrefix + "config.json")
        {
            var dl = _options.DlTemplate.Replace("{base}", BaseUri.ToString().TrimEnd('/'), StringComparison.Ordinal);
            return new Response(200, "application/json", JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["dl"] = dl }), []);
        }

        if (path.StartsWith(IndexPrefix, StringComparison.Ordinal)
            && state.IndexFiles.TryGetValue(path[IndexPrefix.Length..], out var file))
        {
            var headers = new List<KeyValuePair<string, string>>();
            if (_options.SendETags)
            {
                headers.Add(new("ETag", file.ETag));
            }

            if (_options.SendLastModified)
            {
                headers.Add(new("Last-Modified", file.LastModified.ToString("r", CultureInfo.InvariantCulture)));
            }

            return IsNotModified(context.Request, file)
                ? new Response(304, null, [], headers)
                : new Response(200, "text/plain", file.Content, headers);
        }

        return new Response(404, "text/plain", Encoding.UTF8.GetBytes("not found\n"), []);
    }

    private bool IsNotModified(HttpRequest request, IndexFile file)
    {
        var ifNoneMatch = request.Headers.IfNoneMatch.ToString();
        if (_options.SendETags && ifNoneMatch.Length > 0)
        {
            return ifNoneMatch.Split(',').Select(t => t.Trim()).Select(t => t.StartsWith("W/", StringComparison.Ordinal) ? t[2..] : t)
                .Any(t => t == "*" || t == file.ETag);
        }

        var ifModifiedSince = request.Headers.IfModifiedSince.ToString();
        return _options.SendLastModified
            && ifModifiedSince.Length > 0
            && DateTimeOffset.TryParseExact(ifModifiedSince, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var since)
            && file.LastModified <= since;
    }

    private static byte[] Inverted(byte[] body)
    {
        var copy = new byte[body.Length];
        for (var i = 0; i < body.Length; i++)
        {
            copy[i] = (byte)~body[i];
        }

        return copy;
    }

    private static Response Fault(int status, string message) =>
        new(status, "text/plain", Encoding.UTF8.GetBytes(message + "\n"), []);

    private static Response WithRetryAfter(Response response, FaultRule rule) =>
        response with { Headers = [new("Retry-After", rule.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture))] };

    private async Task SendAsync(HttpContext context, string path, Response response, CancellationToken cancellationToken)
    {
        Record(context, path, response.Status);
        StartResponse(context, response);
        if (response.Body.Length > 0 && !HttpMethods.IsHead(context.Request.Method))
        {
            try
            {
                await context.Response.Body.WriteAsync(response.Body, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                context.Abort();
            }
        }
    }

    private async Task SendPartAndAbortAsync(HttpContext context, string path, Response response, CancellationToken cancellationToken)
    {
        if (response.Body.Length == 0)
        {
            // Nothing to cut short (a 304, an empty file): headers alone would be a complete response.
            Record(context, path, 0);
            context.Abort();
            return;
        }

        Record(context, path, response.Status);
        StartResponse(context, response);
        try
        {
            await context.Response.Body.WriteAsync(response.Body.AsMemory(0, response.Body.Length / 2), cancellationToken);
            await context.Response.Body.FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The connection is aborted below either way.
        }

        context.Abort();
    }

    private async Task SendStalledAsync(
        HttpContext context,
        string path,
        Response response,
        FaultRule rule,
        CancellationToken cancellationToken)
    {
        var half = response.Body.Length / 2;
        var recorded = false;
        try
        {
            if (half == 0)
            {
                // A bodiless response (a 304, an empty file) would be complete once its headers are out, so it
                // stalls before them instead.
                rule.MarkStalled();
                await rule.ReleasedTask.WaitAsync(cancellationToken);
                recorded = true;
                await SendAsync(context, path, response, cancellationToken);
                return;
            }

            recorded = true;
            Record(context, path, response.Status);
            StartResponse(context, response);
            await context.Response.Body.WriteAsync(response.Body.AsMemory(0, half), cancellationToken);
            await context.Response.Body.FlushAsync(cancellationToken);
            rule.MarkStalled();
            await rule.ReleasedTask.WaitAsync(cancellationToken);
            await context.Response.Body.WriteAsync(response.Body.AsMemory(half), cancellationToken);
        }
        catch (OperationCanceledException)
        {
            if (!recorded)
            {
                Record(context, path, 0);
            }

            context.Abort();
        }
    }

    private async Task SendDripAsync(HttpContext context, string path, Response response, TimeSpan interval, CancellationToken cancellationToken)
    {
        Record(context, path, response.Status);
        StartResponse(context, response);
        try
        {
            for (var i = 0; i < response.Body.Length; i++)
            {
                await context.Response.Body.WriteAsync(response.Body.AsMemory(i, 1), cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
                await Task.Delay(interval, cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            context.Abort();
        }
    }

    private static void StartResponse(HttpContext context, Response response)
    {
        var http = context.Response;
        http.StatusCode = response.Status;
        foreach (var (name, value) in response.Headers)
        {
            http.Headers[name] = value;
        }

        if (response.Status != 304)
        {
            if (response.ContentType is not null)
            {
                http.ContentType = response.ContentType;
            }

            http.ContentLength = response.Body.Length;
        }
    }

    private void Record(HttpContext context, string path, int status)
    {
        var headers = context.Request.Headers;
        var entry = new RecordedRequest(
            context.Request.Method,
            path,
            NullIfEmpty(headers.UserAgent.ToString()),
            NullIfEmpty(headers.IfNoneMatch.ToString()),
            NullIfEmpty(headers.IfModifiedSince.ToString()),
            status);
        lock (_requests)
        {
            _requests.Add(entry);
        }
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static string RawPath(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? string.Empty;
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        return query >= 0 ? raw[..query] : raw;
    }

    private static string DownloadKey(string name, string version) => name.ToLowerInvariant() + "\n" + version;

    private ServingState BuildState(CrateGraph graph)
    {
        // Only the path of the expanded URL matters for matching, so the port does not need to be known yet.
        const string baseUrl = "http://127.0.0.1";
        var files = new Dictionary<string, IndexFile>(StringComparer.Ordinal);
        foreach (var name in graph.Names.OrderBy(n => n, StringComparer.Ordinal))
        {
            var content = graph.IndexFileFor(name)!;
            var path = RegistryPaths.IndexPath(name);
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content))[..32] + "\"";
            if (!_fileClock.TryGetValue(path, out var clock) || clock.ETag != etag)
            {
                _clock = _clock.AddSeconds(1);
                clock = (etag, _clock);
                _fileClock[path] = clock;
            }

            files[path] = new IndexFile(content, etag, clock.LastModified);
        }

        var downloads = new Dictionary<string, SyntheticCrate>(StringComparer.Ordinal);
        foreach (var crate in graph.Crates)
        {
            var url = new Uri(ExpandDl(_options.DlTemplate, baseUrl, crate));
            downloads[Uri.UnescapeDataString(url.AbsolutePath)] = crate;
        }

        return new ServingState(graph, files, downloads);
    }

    /// <summary>Expands a dl template for one crate exactly as cargo does (markers replaced raw).</summary>
    internal static string ExpandDl(string template, string baseUrl, SyntheticCrate crate)
    {
        var url = template.Replace("{base}", baseUrl, StringComparison.Ordinal);
        string[] markers = ["{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"];
        if (!markers.Any(m => url.Contains(m, StringComparison.Ordinal)))
        {
            return $"{url}/{crate.Name}/{crate.Version}/download";
        }

        return url
            .Replace("{crate}", crate.Name, StringComparison.Ordinal)
            .Replace("{version}", crate.Version, StringComparison.Ordinal)
            .Replace("{prefix}", RegistryPaths.Prefix(crate.Name), StringComparison.Ordinal)
            .Replace("{lowerprefix}", RegistryPaths.Prefix(crate.Name.ToLowerInvariant()), StringComparison.Ordinal)
            .Replace("{sha256-checksum}", crate.Sha256, StringComparison.Ordinal);
    }

    private sealed record Response(int Status, string? ContentType, byte[] Body, IReadOnlyList<KeyValuePair<string, string>> Headers);

    private sealed record IndexFile(byte[] Content, string ETag, DateTimeOffset LastModified);

    private sealed record ServingState(
        CrateGraph Graph,
        IReadOnlyDictionary<string, IndexFile> IndexFiles,
        IReadOnlyDictionary<string, SyntheticCrate> Downloads)
    {
        public SyntheticCrate? FindDownload(string decodedPath, string rawPath) =>
            Downloads.GetValueOrDefault(decodedPath)
            ?? Downloads.GetValueOrDefault(Uri.UnescapeDataString(rawPath));
    }
}
