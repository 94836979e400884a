using System.Buffers.Binary;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using System.IO.Pipelines;
using Microsoft.Win32.SafeHandles;

namespace OrleansCrates.Sockets;

/// <summary>A connection of this transport: files can be placed in its output (<see cref="FileResponses"/>).</summary>
internal interface IFileSendFeature
{
    void HoldOutput();

    void ReleaseOutput();

    FilePlacement Place(SafeFileHandle file, long offset, long count);
}

/// <summary>
/// A response body sent by the kernel from a file (sendfile), for a connection of this transport: the bytes never pass
/// through the process. Kestrel still writes the headers and counts the body against its Content-Length.
/// </summary>
public static class FileResponses
{
    /// <summary>Below this, copying the bytes costs less than arranging for the kernel to send them.</summary>
    public const long MinimumBytes = 16 * 1024;

    /// <summary>Placeholders written between flushes: what the connection holds of them at most.</summary>
    private const int PlaceholderChunk = 64 * 1024;

    /// <summary>
    /// Whether <see cref="TrySendAsync"/> can send <paramref name="count"/> bytes on this request: a GET over plain
    /// HTTP/1.1 on a connection of this transport, <c>Content-Length</c> set to <paramref name="count"/> (the framing the
    /// placeholders are counted against), nothing started yet, and nothing between the response body and
    /// Kestrel (no compression, caching or replaced body stream, which would see placeholder bytes).
    /// </summary>
    public static bool CanSend(HttpContext context, long count) => SenderOrNull(context, count) is not null;

    /// <summary>The connection that can send <paramref name="count"/> bytes of a file on this request (<see cref="CanSend"/>); null if none.</summary>
    private static IFileSendFeature? SenderOrNull(HttpContext context, long count)
    {
        var request = context.Request;
        return count >= MinimumBytes
            && context.Response.ContentLength == count
            && !context.Response.HasStarted
            && !request.IsHttps
            && HttpMethods.IsGet(request.Method)
            && request.Protocol == "HTTP/1.1"
            && context.Features.Get<IFileSendFeature>() is { } sender
            && IsKestrelsOwnBody(context.Features)
                ? sender
                : null;
    }

    /// <summary>
    /// Sends <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/> as the whole
    /// response body (the caller has set status, headers and <c>Content-Length</c> = <paramref name="count"/>); false
    /// when <see cref="CanSend"/> says no and nothing was written. The handle stays usable by the caller and must stay
    /// open until this returns; the file must not change meanwhile (crate files never do).
    /// </summary>
    public static async Task<bool> TrySendAsync(HttpContext context, SafeFileHandle file, long offset, long count, CancellationToken cancellationToken)
    {
        if (SenderOrNull(context, count) is not { } feature)
        {
            return false;
        }

        var response = context.Response;
        FilePlacement placement;
        feature.HoldOutput();
        try
        {
            await response.StartAsync(cancellationToken);
            await response.BodyWriter.FlushAsync(cancellationToken); // the headers, so the file goes right after them
            placement = feature.Place(file, offset, count);
        }
        catch
        {
            feature.ReleaseOutput();
            throw;
        }

        try
        {
            await WritePlaceholdersAsync(response.BodyWriter, placement.Nonce, count, cancellationToken);
            await placement.Sent;
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionResetException or ConnectionAbortedException
                                      or System.Net.Sockets.SocketException or IOException or InvalidOperationException)
        {
            // The connection ended mid-file (the client left, Kestrel aborted it, or the transport found something
            // wrong and logged it): as a write to a closed connection, nothing for the handler to do; the request is over.
            context.Abort();
        }

        return true;
    }

    /// <summary>
    /// Kestrel's HTTP/1.1 connection object is its own request, response and body feature; a middleware that wraps the
    /// body (compression, response caching, a replaced <c>Response.Body</c>) puts another object there.
    /// </summary>
    private static bool IsKestrelsOwnBody(IFeatureCollection features) =>
        features.Get<IHttpResponseBodyFeature>() is { } body
        && ReferenceEquals(body, features.Get<IHttpResponseFeature>())
        && body.GetType().Assembly == typeof(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServer).Assembly;

    /// <summary>
    /// The nonce, then <paramref name="count"/> − 8 bytes advanced unwritten, flushed a chunk at a time: Kestrel counts
    /// them (Content-Length, and its minimum response data rate while a flush waits), the transport drops them as the
    /// kernel sends the file, and the connection never holds more than a chunk of them.
    /// </summary>
    private static async Task WritePlaceholdersAsync(PipeWriter writer, ulong nonce, long count, CancellationToken cancellationToken)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(writer.GetSpan(FilePlacement.NonceLength), nonce);
        writer.Advance(FilePlacement.NonceLength);
        var left = count - FilePlacement.NonceLength;
        var unflushed = (long)FilePlacement.NonceLength;
        while (left > 0)
        {
            var step = (int)Math.Min(writer.GetMemory((int)Math.Min(left, PlaceholderChunk)).Length, left);
            writer.Advance(step);
            left -= step;
            unflushed += step;
            if (unflushed >= PlaceholderChunk || left == 0)
            {
                var flushed = await writer.FlushAsync(cancellationToken);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return; // the connection is gone: Sent says why
                }

                unflushed = 0;
            }
        }
    }
}
