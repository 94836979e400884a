using System.Buffers;
using System.Globalization;
using Microsoft.Net.Http.Headers;
using OrleansCrates.Core.Telemetry;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// A small index document served from memory with a strong ETag; a matching If-None-Match gets 304. A stale copy
/// (served because upstream failed or is being revalidated) says how old it is in <c>Age</c>.
/// </summary>
public sealed class IndexBytesResult(ReadOnlyMemory<byte> body, string contentType, TimeSpan? stale, string? etag = null) : IResult
{
    public const string StaleHeader = "X-Index-Stale";

    public ReadOnlyMemory<byte> Body => body;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        var tag = etag ?? ETags.Of(body.Span);
        response.Headers.ETag = tag;
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
        BytesServed.Count(httpContext, FileKind.Index, body.Length);
        return response.Body.WriteAsync(body, httpContext.RequestAborted).AsTask();
    }
}

/// <summary>
/// A stored crate file, streamed from storage without being buffered whole. Immutable, so cacheable forever; never
/// compressed (cargo hashes the bytes as they arrive).
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
        response.Headers.CacheControl = "public, max-age=31536000, immutable";
        response.Headers.ETag = stored.ETag;
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

/// <summary><c>orleanscrates_bytes_served</c>: body bytes written, by registry (the private one lives under <c>/private</c>) and kind.</summary>
internal static class BytesServed
{
    public static void Count(HttpContext httpContext, FileKind kind, long bytes)
    {
        if (bytes > 0 && httpContext.RequestServices?.GetService(typeof(OrleansCratesMetrics)) is OrleansCratesMetrics metrics)
        {
            var registry = httpContext.Request.Path.StartsWithSegments("/private", StringComparison.OrdinalIgnoreCase)
                ? ServedRegistry.Private
                : ServedRegistry.Mirror;
            metrics.BytesServed(registry, kind, bytes);
        }
    }
}

public static class ETags
{
    public static string Of(ReadOnlySpan<byte> body) =>
        "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body).AsSpan(0, 16)) + "\"";

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

/// <summary>Short plain-text answers: cargo prints the body of a failed request.</summary>
public static class PlainText
{
    public static IResult NotFound(string message) => Status(StatusCodes.Status404NotFound, message);

    public static IResult BadRequest(string message) => Status(StatusCodes.Status400BadRequest, message);

    public static IResult Status(int status, string message) =>
        TypedResults.Text(message + "\n", "text/plain; charset=utf-8", statusCode: status);

    /// <summary>503 with Retry-After: cargo retries, and never concludes that the crate does not exist.</summary>
    public static IResult Unavailable(string message, TimeSpan? retryAfter) => new WithRetryAfter(
        Status(StatusCodes.Status503ServiceUnavailable, message),
        Seconds(retryAfter ?? TimeSpan.FromSeconds(5)));

    /// <summary>502: upstream failed or sent a bad file. Retry-After only when upstream asked for a wait.</summary>
    public static IResult BadGateway(string message, TimeSpan? retryAfter)
    {
        var result = Status(StatusCodes.Status502BadGateway, message);
        return retryAfter is { } wait ? new WithRetryAfter(result, Seconds(wait)) : result;
    }

    private static int Seconds(TimeSpan wait) => (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 60);

    private sealed class WithRetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers[HeaderNames.RetryAfter] = seconds.ToString(CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}

public static class PublicBaseUrl
{
    /// <summary>The configured public URL, or the scheme, host and path base this request came in on. No trailing slash.</summary>
    public static string Of(HttpRequest request, string? configured) =>
        string.IsNullOrWhiteSpace(configured)
            ? $"{request.Scheme}://{request.Host}{request.PathBase}"
            : configured.TrimEnd('/');
}
