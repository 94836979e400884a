using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Sockets;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// A small index document served from memory with a strong ETag; a matching If-None-Match gets 304. A stale copy
/// (served because upstream failed or is being revalidated) says how old it is in <c>Age</c>. An answer to a request
/// that carried credentials is <c>Cache-Control: private</c> (<see cref="CacheHeaders"/>); one built from the request's
/// Host (<paramref name="hostDependent"/>: config.json without <c>Mirror:PublicUrl</c>) is private and says
/// <c>Vary</c>. HEAD gets the same status and headers, Content-Length included, and no body.
/// </summary>
public sealed class IndexBytesResult(ReadOnlyMemory<byte> body, string contentType, TimeSpan? stale, string? etag = null, bool hostDependent = false) : IResult
{
    public const string StaleHeader = "X-Index-Stale";

    public ReadOnlyMemory<byte> Body => body;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        var tag = etag ?? Protocol.StrongETag.Of(body.Span);
        response.Headers.ETag = tag;
        CacheHeaders.Apply(httpContext, hostDependent);
        if (stale is { } age)
        {
            response.Headers.Age = ((long)age.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            response.Headers[StaleHeader] = "upstream-unavailable-or-revalidating";
        }

        if (ETags.Matches(httpContext.Request.Headers.IfNoneMatch, tag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        if (HttpMethods.IsHead(httpContext.Request.Method))
        {
            return Task.CompletedTask;
        }

        BytesServed.Count(httpContext, FileKind.Index, body.Length);
        return response.Body.WriteAsync(body, httpContext.RequestAborted).AsTask();
    }
}

/// <summary>
/// Who may keep an answer. Registry answers are the same for everyone who may see them, so anonymous ones are left to
/// each result (crate files: <c>public, immutable</c>); but an answer to a request that carried credentials
/// (<c>Authorization</c>: cargo's token, Bearer or Basic) is only for that caller, so it is <c>private</c> and a shared
/// cache never hands it to anyone else. Answers built from the request's Host are private too, and say <c>Vary</c>.
/// The anonymous warm path pays one header-count check.
/// </summary>
public static class CacheHeaders
{
    public const string Immutable = "public, max-age=31536000, immutable";
    public const string PrivateImmutable = "private, max-age=31536000, immutable";
    public const string HostVary = "Host, X-Forwarded-Host, X-Forwarded-Proto";

    public static bool IsAuthenticated(HttpRequest request) => request.Headers.Authorization.Count > 0;

    /// <summary>Marks an index answer private when it went to credentials or depends on the Host; nothing otherwise.</summary>
    public static void Apply(HttpContext httpContext, bool hostDependent)
    {
        if (hostDependent)
        {
            httpContext.Response.Headers.Vary = HostVary;
        }

        if (hostDependent || IsAuthenticated(httpContext.Request))
        {
            httpContext.Response.Headers.CacheControl = "private";
        }
    }

    /// <summary>A crate file never changes: cacheable for a year, by shared caches only when no credentials were sent.</summary>
    public static string ForCrateFile(HttpRequest request) => IsAuthenticated(request) ? PrivateImmutable : Immutable;
}

/// <summary>
/// A stored crate file, streamed from storage without being buffered whole. Immutable, so cacheable forever
/// (<see cref="CacheHeaders.ForCrateFile"/>); never compressed (cargo hashes the bytes as they arrive). HEAD gets the
/// headers (exact Content-Length) and no body. A file held in a file (on disk, or the hot layer's sealed memory file)
/// is sent by the kernel where the connection allows (<see cref="FileResponses"/>: plain HTTP/1.1 on Linux).
/// </summary>
public sealed class CrateFileHttpResult(StoredObject stored, IAsyncDisposable owner) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        await using var _ = owner;
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/gzip";
        response.ContentLength = stored.Length;
        response.Headers.CacheControl = CacheHeaders.ForCrateFile(httpContext.Request);
        response.Headers.ETag = stored.ETag;
        if (HttpMethods.IsHead(httpContext.Request.Method))
        {
            return;
        }

        if (FileResponses.CanSend(httpContext, stored.Length) && stored.FileHandle is { } file)
        {
            if (stored.Content is FileStream)
            {
                // A file on disk may not be in the page cache: the kernel's read must not stall a socket event thread.
                await Task.Yield();
            }

            if (await FileResponses.TrySendAsync(httpContext, file, 0, stored.Length, httpContext.RequestAborted))
            {
                BytesServed.Count(httpContext, FileKind.Crate, stored.Length, byKernel: true); // sendfile: never copied here
                return;
            }
        }

        if (stored.Content is MemoryStream memory && memory.TryGetBuffer(out var hot))
        {
            await response.Body.WriteAsync(hot, httpContext.RequestAborted); // from the hot layer: one write, no copy
            BytesServed.Count(httpContext, FileKind.Crate, hot.Count);
            return;
        }

        // Streamed in large chunks: never the whole file in memory, and few flushes per file.
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        long sent = 0;
        try
        {
            int read;
            while ((read = await stored.Content.ReadAsync(buffer, httpContext.RequestAborted)) > 0)
            {
                await response.Body.WriteAsync(buffer.AsMemory(0, read), httpContext.RequestAborted);
                sent += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            BytesServed.Count(httpContext, FileKind.Crate, sent);
        }
    }
}

/// <summary>
/// A redirect (302) to a short-lived read-only URL of a stored crate file (<c>Mirror:Downloads:Redirect</c>): storage
/// sends the bytes. The answer itself expires with the URL, so no cache keeps it (<c>no-store</c>); cargo follows it.
/// </summary>
public sealed class StorageRedirectResult(Uri location) : IResult
{
    public Uri Location => location;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status302Found;
        response.Headers.Location = location.AbsoluteUri;
        response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    }
}

/// <summary>
/// <c>orleanscrates_bytes_served</c>: body bytes written, by registry (the private one lives under <c>/private</c>) and
/// kind. The metrics come with the endpoint (<see cref="WithServedBytes"/>), not from the request's services: asking
/// those would create a service scope for every warm request.
/// </summary>
public static class BytesServed
{
    /// <summary>Counts the bytes the endpoints of <paramref name="group"/> serve.</summary>
    public static RouteGroupBuilder WithServedBytes(this RouteGroupBuilder group, IServiceProvider services) =>
        group.WithMetadata(services.GetRequiredService<OrleansCratesMetrics>());

    /// <summary>Counts <paramref name="bytes"/> served; <paramref name="byKernel"/>: sent by the kernel from a file (also <c>orleanscrates_served_kernel</c>).</summary>
    internal static void Count(HttpContext httpContext, FileKind kind, long bytes, bool byKernel = false)
    {
        if (bytes > 0 && httpContext.GetEndpoint()?.Metadata.GetMetadata<OrleansCratesMetrics>() is { } metrics)
        {
            var registry = httpContext.Request.Path.StartsWithSegments("/private", StringComparison.OrdinalIgnoreCase)
                ? ServedRegistry.Private
                : ServedRegistry.Mirror;
            metrics.BytesServed(registry, kind, bytes);
            if (byKernel)
            {
                metrics.BytesSentByKernel(bytes);
            }
        }
    }
}

public static class ETags
{
    /// <summary>If-None-Match holds <paramref name="etag"/> (compared as an opaque string) or <c>*</c>.</summary>
    public static bool Matches(Microsoft.Extensions.Primitives.StringValues ifNoneMatch, string etag)
    {
        foreach (var header in ifNoneMatch)
        {
            if (header is null)
            {
                continue;
            }

            foreach (var candidate in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (candidate == "*" || string.Equals(candidate, etag, StringComparison.Ordinal) ||
                    (candidate.StartsWith("W/", StringComparison.Ordinal) && string.Equals(candidate[2..], etag, StringComparison.Ordinal)))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

/// <summary>Short plain-text answers: cargo prints the body of a failed request. Typed, so handlers can name them in a <c>Results&lt;...&gt;</c> union.</summary>
public static class PlainText
{
    /// <summary>The mirror's answer for a crate upstream does not have (also for names it must not reveal as private).</summary>
    public static ContentHttpResult NoSuchCrateUpstream(Protocol.CrateName name) => NotFound($"crate '{name}' does not exist upstream");

    /// <summary>A download of a crate upstream does not have: the words of the mirror core's own not-found (see the leak tests).</summary>
    public static ContentHttpResult NoSuchCrateDownload(Protocol.CrateName name) => NotFound($"crate '{name}' does not exist");

    public static ContentHttpResult NotFound(string message) => Status(StatusCodes.Status404NotFound, message);

    public static ContentHttpResult BadRequest(string message) => Status(StatusCodes.Status400BadRequest, message);

    public static ContentHttpResult Status(int status, string message) =>
        TypedResults.Text(message + "\n", "text/plain; charset=utf-8", statusCode: status);

    /// <summary>503 with Retry-After: cargo retries, and never concludes that the crate does not exist.</summary>
    public static RetryableText Unavailable(string message, TimeSpan? retryAfter) => new(
        Status(StatusCodes.Status503ServiceUnavailable, message),
        Seconds(retryAfter ?? TimeSpan.FromSeconds(5)));

    /// <summary>502: upstream failed or sent a bad file. Retry-After only when upstream asked for a wait.</summary>
    public static RetryableText BadGateway(string message, TimeSpan? retryAfter) =>
        new(Status(StatusCodes.Status502BadGateway, message), retryAfter is { } wait ? Seconds(wait) : null);

    private static int Seconds(TimeSpan wait) => (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 60);
}

/// <summary>A plain-text failure that may be retried (503, 502): <c>Retry-After</c> in seconds when there is a wait to ask for.</summary>
public sealed class RetryableText(ContentHttpResult text, int? retryAfterSeconds) : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    public int? StatusCode => text.StatusCode;

    public string? ContentType => text.ContentType;

    public string? ResponseContent => text.ResponseContent;

    public int? RetryAfterSeconds => retryAfterSeconds;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        if (retryAfterSeconds is { } seconds)
        {
            httpContext.Response.Headers[HeaderNames.RetryAfter] = seconds.ToString(CultureInfo.InvariantCulture);
        }

        return text.ExecuteAsync(httpContext);
    }
}
