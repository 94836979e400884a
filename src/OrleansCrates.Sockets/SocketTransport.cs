using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Sockets;

/// <summary>How the transport runs its connections.</summary>
public sealed class SocketTransportOptions
{
    /// <summary>Request code runs on the thread that read the socket, and a flush sends at once (Kestrel's <c>UnsafePreferInlineScheduling</c>).</summary>
    public bool InlineScheduling { get; set; } = true;

    /// <summary>Request bytes buffered before the transport stops reading (Kestrel's default).</summary>
    public long MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// Response bytes buffered before a flush waits for the socket (Kestrel's default). A placed file's placeholders
    /// count until the kernel has sent the file, so Kestrel's minimum response data rate holds for files too.
    /// </summary>
    public long MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>An idle connection holds no buffer: a zero-byte read waits for data first (Kestrel's default).</summary>
    public bool WaitForDataBeforeAllocatingBuffer { get; set; } = true;

    public int Backlog { get; set; } = 512;
}

/// <summary>
/// Kestrel's transport for TCP endpoints (IP addresses) on Linux: this project's <see cref="SocketConnection"/>s.
/// Other endpoints (Unix sockets, handles) and other platforms stay with Kestrel's own sockets transport.
/// </summary>
internal sealed class SocketTransportFactory(IOptions<SocketTransportOptions> options, ILoggerFactory loggers, IMemoryPoolFactory<byte> pools) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    // Kestrel's own pool (pinned 4 KiB blocks, its metrics and idle eviction): a send hands the kernel block addresses.
    private readonly MemoryPool<byte> _pool = pools.Create(new MemoryPoolOptions { Owner = "sockets" });

    public bool CanBind(EndPoint endpoint) => Native.Supported && endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not IPEndPoint ip)
        {
            throw new NotSupportedException($"{endpoint} is not an IP endpoint");
        }

        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ip.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(ip);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(e.Message, e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        socket.Listen(options.Value.Backlog);
        return ValueTask.FromResult<IConnectionListener>(new SocketListener(socket, _pool, options.Value, loggers.CreateLogger<SocketConnection>()));
    }
}

internal sealed class SocketListener(Socket listening, MemoryPool<byte> pool, SocketTransportOptions options, ILogger logger) : IConnectionListener
{
    private static long s_lastId;

    public EndPoint EndPoint { get; } = listening.LocalEndPoint!;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await listening.AcceptAsync(cancellationToken);
            }
            catch (ObjectDisposedException)
            {
                return null; // unbound
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
            {
                return null;
            }
            catch (SocketException)
            {
                continue; // reset before it was accepted
            }

            accepted.NoDelay = true;
            var connection = new SocketConnection(accepted, pool, options, ConnectionIdOf(Interlocked.Increment(ref s_lastId)), logger);
            connection.Start();
            return connection;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        listening.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        listening.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Thirteen base-32 characters, as Kestrel's connection ids look.</summary>
    private static string ConnectionIdOf(long id) => string.Create(13, id, static (chars, value) =>
    {
        const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
        for (var i = 12; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
    });
}
