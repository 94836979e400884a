using System.Net;
using OrleansCrates.Testing;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>
/// A deterministic pseudo-random byte stream of a given length (xorshift64*), generated on the fly: large test content
/// without a large array.
/// </summary>
internal sealed class PseudoRandomStream(long length, ulong seed) : ReadOnlyTestStream
{
    private ulong _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;
    private ulong _word;
    private int _wordBytesLeft;
    private long _position;

    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var count = (int)Math.Min(buffer.Length, length - _position);
        for (var i = 0; i < count; i++)
        {
            if (_wordBytesLeft == 0)
            {
                _state ^= _state >> 12;
                _state ^= _state << 25;
                _state ^= _state >> 27;
                _word = _state * 0x2545F4914F6CDD1DUL;
                _wordBytesLeft = 8;
            }

            buffer[i] = (byte)_word;
            _word >>= 8;
            _wordBytesLeft--;
        }

        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));
}

/// <summary>
/// Sits between the Azure SDK's pipeline and the socket: records every attempt, and answers the first <c>failFirst</c> requests
/// that match with a 503 ServerBusy of its own, without forwarding them.
/// </summary>
internal sealed class FaultInjectingHandler(Func<HttpRequestMessage, bool> matches, int failFirst) : DelegatingHandler(new SocketsHttpHandler())
{
    private int _failuresLeft = failFirst;

    public List<(string Method, string PathAndQuery, string? Date, string? Authorization, int Status)> Attempts { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var date = request.Headers.TryGetValues("x-ms-date", out var dates) ? dates.Single() : null;
        var authorization = request.Headers.Authorization?.ToString();
        HttpResponseMessage response;
        if (matches(request) && Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { RequestMessage = request };
            response.Headers.Add("x-ms-error-code", "ServerBusy");
        }
        else
        {
            response = await base.SendAsync(request, cancellationToken);
        }

        lock (Attempts)
        {
            Attempts.Add((request.Method.Method, request.RequestUri!.PathAndQuery, date, authorization, (int)response.StatusCode));
        }

        return response;
    }
}

internal static class StoreExtensions
{
    public static async Task<string?> ReadStringOrNullAsync(this IObjectStore store, string key, CancellationToken cancellationToken)
    {
        var read = await store.ReadSmallOrNullAsync(key, cancellationToken);
        return read is null ? null : System.Text.Encoding.UTF8.GetString(read.Value.Content);
    }
}
