using System.Buffers;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Operations.Telemetry;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// A file being downloaded (on this node, or on another and relayed here), sent as its bytes arrive
/// (<see cref="InFlightSpool"/>): Content-Length only when upstream announced one (otherwise chunked), no ETag and no
/// caching (it is not stored yet). If the download turns out wrong or breaks off, the connection is aborted, so the
/// client sees a broken transfer (a body shorter than its Content-Length, or chunks without their end) and never a
/// completed wrong body. A download that had verified before the request read it (<see cref="SpoolRead.Verified"/>) is
/// sent like a stored file: its exact length, cacheable, not marked as streaming. Also what a silo's internal listener
/// sends other silos (<see cref="Hosting.InternalHttpListener"/>).
/// <paramref name="served"/>: the kind its bytes are counted as in <c>orleanscrates_served</c> (a client's download).
/// </summary>
public sealed class SpooledFileHttpResult(SpoolRead spool, string contentType, FileKind? served = null) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        await using var content = spool.Content;
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = spool.Length;
        if (spool.Verified)
        {
            // Every byte is here and is the published file (its commit to storage may still be running): as a stored one.
            response.Headers.CacheControl = CacheHeaders.ForCrateFile(httpContext.Request);
        }
        else
        {
            response.Headers.CacheControl = "no-store";
            response.Headers["X-Mirror-Streaming"] = "true";
            await response.StartAsync(httpContext.RequestAborted); // the headers go out now, before the first byte arrives
        }

        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        long sent = 0;
        try
        {
            int read;
            while ((read = await ReadOrAbortAsync(httpContext, content, buffer)) > 0)
            {
                await response.Body.WriteAsync(buffer.AsMemory(0, read), httpContext.RequestAborted);
                await response.Body.FlushAsync(httpContext.RequestAborted); // each chunk goes out as it arrives
                sent += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (served is { } kind)
            {
                BytesServed.Count(httpContext, kind, sent);
            }
        }
    }

    private static async Task<int> ReadOrAbortAsync(HttpContext httpContext, Stream content, byte[] buffer)
    {
        try
        {
            return await content.ReadAsync(buffer, httpContext.RequestAborted);
        }
        catch (IOException)
        {
            httpContext.Abort(); // the download failed or did not verify: never let the client complete this body
            return 0;
        }
    }
}
