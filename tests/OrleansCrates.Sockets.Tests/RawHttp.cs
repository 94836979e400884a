using System.Net.Sockets;
using System.Text;

namespace OrleansCrates.Sockets.Tests;

/// <summary>HTTP/1.1 by hand on one TCP connection: requests written as given (pipelined if several), responses read in order.</summary>
internal sealed class RawHttp : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawHttp(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public Socket Socket => _client.Client;

    public static async Task<RawHttp> ConnectAsync(Uri address, int? receiveBufferSize = null)
    {
        var client = new TcpClient();
        if (receiveBufferSize is { } size)
        {
            client.ReceiveBufferSize = size;
        }

        await client.ConnectAsync(address.Host, address.Port);
        return new RawHttp(client);
    }

    public Task SendAsync(params string[] requests) =>
        _stream.WriteAsync(Encoding.ASCII.GetBytes(string.Concat(requests))).AsTask();

    public static string Get(string path, string method = "GET", string version = "HTTP/1.1") =>
        $"{method} {path} {version}\r\nHost: test\r\n\r\n";

    /// <summary>The next response: status line, headers (lower-case names) and, unless <paramref name="bodyless"/>, its Content-Length of body.</summary>
    public async Task<Response> ReadResponseAsync(bool bodyless = false)
    {
        var head = await ReadHeadAsync();
        var lines = head.Split("\r\n");
        var headers = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(':', 2))
            .ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var length = headers.TryGetValue("content-length", out var value) ? long.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        var body = new MemoryStream();
        if (!bodyless)
        {
            await ReadBodyAsync(body, length);
        }

        return new Response(int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, body.ToArray());
    }

    /// <summary>Reads until the connection ends (30 s at most, then what came so far); returns everything received.</summary>
    public async Task<byte[]> ReadToEndAsync()
    {
        var all = new MemoryStream();
        all.Write(_buffer, _start, _end - _start);
        _start = _end = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _stream.CopyToAsync(all, timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // reset, or still open: what came before is what matters
        }

        return all.ToArray();
    }

    public async Task<string> ReadHeadAsync()
    {
        while (true)
        {
            var at = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (at >= 0)
            {
                var head = Encoding.ASCII.GetString(_buffer, _start, at);
                _start += at + 4;
                return head;
            }

            await FillAsync();
        }
    }

    public async Task ReadBodyAsync(Stream into, long length)
    {
        while (length > 0)
        {
            if (_start == _end)
            {
                await FillAsync();
            }

            var take = (int)Math.Min(length, _end - _start);
            into.Write(_buffer, _start, take);
            _start += take;
            length -= take;
        }
    }

    private async Task FillAsync()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        var read = await _stream.ReadAsync(_buffer.AsMemory(_end));
        if (read == 0)
        {
            throw new EndOfStreamException("the server closed the connection");
        }

        _end += read;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    internal sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body);
}
