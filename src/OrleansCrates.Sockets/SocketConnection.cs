using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace OrleansCrates.Sockets;

/// <summary>
/// One accepted socket as a Kestrel connection: a receive loop fills <see cref="ConnectionContext.Transport"/>'s input,
/// a send loop drains its output (one sendmsg per batch), with the lifetime rules of Kestrel's own sockets transport
/// (a FIN completes the input; the send loop's end shuts the socket down; <see cref="Abort"/> closes it at once).
/// <para>
/// What Kestrel's transport cannot do: send part of a response straight from a file (<see cref="Place"/>). The
/// response's bytes still go through Kestrel, which keeps its framing and Content-Length checks: the handler writes the
/// file's length in placeholder bytes that start with a random nonce, and the send loop, on reaching exactly that
/// position, checks the nonce, sends what came before (MSG_MORE, so the headers leave in the file's first segment),
/// hands the file to the kernel (sendfile), and drops the placeholders as the file goes out, never ahead of it (so
/// Kestrel's flush of them waits on the file's real progress). A placeholder is never sent: a nonce not found where
/// the file was placed aborts the connection before a byte of it leaves.
/// </para>
/// </summary>
internal sealed partial class SocketConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IMemoryPoolFeature, IConnectionSocketFeature, IFileSendFeature
{
    private const int MinimumReceiveBuffer = 2048; // half a block of Kestrel's pool, as Kestrel's transport asks
    private const int MaxBuffersPerSend = 64;
    private const int CopyChunk = 64 * 1024;
    private const int WaitChunk = 4096; // copied to wait for room in a full socket, then sendfile again

    private static long s_copiedChunks;

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly bool _waitForData;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly CountingPipeWriter _written;
    private readonly CancellationTokenSource _closedSource = new();
    private readonly TaskCompletionSource _closedFired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _shutdownLock = new();
    private readonly MemoryHandle[] _pins = new MemoryHandle[MaxBuffersPerSend];
    private Task? _processing;
    private volatile bool _socketDisposed;
    private volatile bool _aborted;
    private volatile bool _sendLoopEnded;
    private volatile Exception? _shutdownReason;
    private bool _closedScheduled;
    private IDictionary<object, object?>? _items;

    // A file placed in the output (written by the request, read by the send loop; see Place).
    private FilePlacement? _placement;
    private volatile bool _holding;

    // Send loop only: bytes of the output consumed so far, and the placed file being sent.
    private long _consumed;
    private FilePlacement? _sending;

    public SocketConnection(Socket socket, MemoryPool<byte> pool, SocketTransportOptions options, string connectionId, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
        _waitForData = options.WaitForDataBeforeAllocatingBuffer;
        MemoryPool = pool;
        ConnectionId = connectionId;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionClosed = _closedSource.Token;

        // Inline: the request code runs on the thread that completed the socket read, and a flush sends at once.
        var application = options.InlineScheduling ? PipeScheduler.Inline : PipeScheduler.ThreadPool;
        _input = new Pipe(new PipeOptions(pool, readerScheduler: application, writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: options.MaxReadBufferSize, resumeWriterThreshold: options.MaxReadBufferSize / 2, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, readerScheduler: PipeScheduler.Inline, writerScheduler: application,
            pauseWriterThreshold: options.MaxWriteBufferSize, resumeWriterThreshold: options.MaxWriteBufferSize / 2, useSynchronizationContext: false));
        _written = new CountingPipeWriter(_output.Writer);
        Transport = new DuplexPipe(_input.Reader, _written);

        Features = new FeatureCollection();
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
        Features.Set<IMemoryPoolFeature>(this);
        Features.Set<IConnectionSocketFeature>(this);
        Features.Set<IFileSendFeature>(this);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public MemoryPool<byte> MemoryPool { get; }

    public Socket Socket => _socket;

    /// <summary>Chunks of placed files copied because the socket was full when the kernel was asked to send them (all connections).</summary>
    internal static long CopiedChunks => Interlocked.Read(ref s_copiedChunks);

    public void Start() => _processing = RunAsync();

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _aborted = true;
        Shutdown(abortReason);
        _output.Reader.CancelPendingRead(); // ends the send loop
    }

    /// <summary>Called by Kestrel once it is done with the connection (after <see cref="ConnectionContext.ConnectionClosed"/>).</summary>
    public override async ValueTask DisposeAsync()
    {
        _input.Reader.Complete();
        _written.Complete();
        if (_processing is not null)
        {
            await _processing;
        }

        _closedSource.Dispose();
    }

    /// <summary>
    /// Holds the output back until a file is placed (or <see cref="ReleaseOutput"/>): the response headers written
    /// meanwhile leave with the file's first bytes instead of in a packet of their own.
    /// </summary>
    public void HoldOutput() => _holding = true;

    public void ReleaseOutput()
    {
        _holding = false;
        _output.Reader.CancelPendingRead(); // the send loop looks again at what it held
    }

    /// <summary>
    /// Places <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/> at the current end
    /// of the output. Every byte written before this call must have been flushed. The caller then writes exactly
    /// <paramref name="count"/> placeholder bytes starting with <see cref="FilePlacement.Nonce"/> (flushing as it goes), and awaits
    /// <see cref="FilePlacement.Sent"/>; the file handle is referenced until then.
    /// </summary>
    public FilePlacement Place(SafeFileHandle file, long offset, long count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, FilePlacement.NonceLength);
        if (Volatile.Read(ref _placement) is not null)
        {
            throw new InvalidOperationException("a file is already being sent on this connection");
        }

        var placement = new FilePlacement(file, offset, count, _written.Written);
        Volatile.Write(ref _placement, placement);
        _holding = false;
        if (_sendLoopEnded)
        {
            EndPlacement(new ConnectionAbortedException("the connection closed before the file was sent"));
        }

        return placement;
    }

    private async Task RunAsync()
    {
        try
        {
            var receiving = ReceiveAsync();
            var sending = SendAsync();
            await receiving;
            await sending;
        }
        catch (Exception e)
        {
            LogUnexpected(_logger, e, "run", ConnectionId);
        }
    }

    private async Task ReceiveAsync()
    {
        Exception? error = null;
        try
        {
            var input = _input.Writer;
            while (true)
            {
                if (_waitForData)
                {
                    await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None); // no buffer held by an idle connection
                }

                var buffer = input.GetMemory(MinimumReceiveBuffer);
                var received = await _socket.ReceiveAsync(buffer, SocketFlags.None);
                if (received == 0)
                {
                    break; // FIN
                }

                input.Advance(received);
                var flushed = await input.FlushAsync();
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (SocketException e) when (IsReset(e.SocketErrorCode))
        {
            error = new ConnectionResetException(e.Message, e);
        }
        catch (Exception e) when (e is ObjectDisposedException || (e is SocketException s && IsAbort(s.SocketErrorCode)))
        {
            error = e; // the socket was closed: _shutdownReason says why
        }
        catch (Exception e)
        {
            error = e;
            LogReceiveFailed(_logger, e, ConnectionId);
        }
        finally
        {
            _input.Writer.Complete(_shutdownReason ?? error);
            FireConnectionClosed();
            await _closedFired.Task;
        }
    }

    private async Task SendAsync()
    {
        Exception? shutdownReason = null;
        Exception? unexpected = null;
        try
        {
            var output = _output.Reader;
            while (true)
            {
                var result = await output.ReadAsync();
                if (result.IsCanceled && _aborted)
                {
                    break;
                }

                var buffer = result.Buffer;
                var rest = await SendAvailableAsync(buffer);
                output.AdvanceTo(rest.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break; // anything left is the part of a placement Kestrel never finished: not sent
                }
            }
        }
        catch (SocketException e) when (IsReset(e.SocketErrorCode))
        {
            shutdownReason = new ConnectionResetException(e.Message, e);
        }
        catch (Exception e) when (e is ObjectDisposedException || (e is SocketException s && IsAbort(s.SocketErrorCode)))
        {
            shutdownReason = e;
        }
        catch (Exception e)
        {
            shutdownReason = e;
            unexpected = e;
            LogUnexpected(_logger, e, "send", ConnectionId);
        }
        finally
        {
            _sendLoopEnded = true;
            EndPlacement(shutdownReason ?? new ConnectionAbortedException("the connection closed before the file was sent"));
            Shutdown(shutdownReason);
            _output.Reader.Complete(unexpected);
            _input.Writer.CancelPendingFlush();
        }
    }

    /// <summary>
    /// Sends what <paramref name="buffer"/> holds, files placed in it included; returns what must wait for more. A
    /// placed file's placeholders are dropped as the kernel sends the file, never ahead of it: Kestrel's flush of them
    /// waits on the file's real progress, as a flush of a copied body waits on the socket.
    /// </summary>
    private async ValueTask<ReadOnlySequence<byte>> SendAvailableAsync(ReadOnlySequence<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            if (_sending is { } sending)
            {
                var available = Math.Min(buffer.Length, sending.Count - sending.PlaceholdersDropped);
                while (available > 0)
                {
                    if (sending.FileBytesSent == sending.PlaceholdersDropped)
                    {
                        await SendMoreOfFileAsync(sending);
                    }

                    var dropped = Math.Min(available, sending.FileBytesSent - sending.PlaceholdersDropped);
                    buffer = buffer.Slice(dropped);
                    _consumed += dropped;
                    sending.PlaceholdersDropped += dropped;
                    available -= dropped;
                }

                if (sending.PlaceholdersDropped == sending.Count)
                {
                    _sending = null;
                    EndPlacement(error: null);
                }

                continue;
            }

            var placement = Volatile.Read(ref _placement);
            if (placement is null)
            {
                if (_holding)
                {
                    return buffer; // headers of a file response: they go with the file
                }

                await SendBytesAsync(buffer, more: false);
                _consumed += buffer.Length;
                return buffer.Slice(buffer.End);
            }

            var before = placement.Start - _consumed;
            if (before < 0)
            {
                throw new InvalidOperationException("a file was placed behind output already sent");
            }

            if (buffer.Length < before + FilePlacement.NonceLength)
            {
                return buffer; // the placeholders have not arrived yet
            }

            if (NonceAt(buffer.Slice(before, FilePlacement.NonceLength)) != placement.Nonce)
            {
                throw new InvalidOperationException("a placed file's placeholders are not where it was placed; nothing of them is sent");
            }

            if (before > 0)
            {
                await SendBytesAsync(buffer.Slice(0, before), more: true);
                _consumed += before;
                buffer = buffer.Slice(before);
            }

            _sending = placement;
        }

        return buffer;
    }

    private static ulong NonceAt(in ReadOnlySequence<byte> bytes)
    {
        Span<byte> nonce = stackalloc byte[FilePlacement.NonceLength];
        bytes.CopyTo(nonce);
        return BinaryPrimitives.ReadUInt64LittleEndian(nonce);
    }

    /// <summary>One sendmsg of up to <see cref="MaxBuffersPerSend"/> buffers; when the socket is full, the runtime's send waits for room.</summary>
    private async ValueTask SendBytesAsync(ReadOnlySequence<byte> buffer, bool more)
    {
        while (!buffer.IsEmpty)
        {
            var sent = TrySend(buffer, more, out var errno);
            if (sent > 0)
            {
                buffer = buffer.Slice(sent);
                continue;
            }

            if (errno == Native.EINTR)
            {
                continue;
            }

            if (errno != Native.EAGAIN)
            {
                throw Native.ToSocketException(errno);
            }

            var first = buffer.First;
            var written = await _socket.SendAsync(first, SocketFlags.None);
            buffer = buffer.Slice(written);
        }
    }

    private unsafe long TrySend(in ReadOnlySequence<byte> buffer, bool more, out int errno)
    {
        var vectors = stackalloc Native.IoVec[MaxBuffersPerSend];
        var count = 0;
        try
        {
            foreach (var segment in buffer)
            {
                if (segment.IsEmpty)
                {
                    continue;
                }

                _pins[count] = segment.Pin();
                vectors[count] = new Native.IoVec { Base = _pins[count].Pointer, Length = (nuint)segment.Length };
                if (++count == MaxBuffersPerSend)
                {
                    break;
                }
            }

            if (count == 0)
            {
                errno = 0;
                return 0;
            }

            // MSG_MORE only when all of the buffer is in this call: a part left for later must not be held back.
            var whole = buffer.IsSingleSegment || count < MaxBuffersPerSend;
            return Native.SendMessage(_socket.SafeHandle, vectors, count, more && whole, out errno);
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                _pins[i].Dispose();
            }
        }
    }

    /// <summary>
    /// Sends more of the placed file: with sendfile as far as the socket takes it now, else (the socket full) one small
    /// chunk copied through the runtime's send, which waits for room. Returns once something was sent.
    /// </summary>
    private async ValueTask SendMoreOfFileAsync(FilePlacement placement)
    {
        var progressed = false;
        while (placement.FileBytesSent < placement.Count)
        {
            var left = placement.Count - placement.FileBytesSent;
            if (!placement.CopyOnly)
            {
                var offset = placement.Offset + placement.FileBytesSent;
                var sent = Native.SendFile(_socket.SafeHandle, placement.File, ref offset, Math.Min(left, 1L << 30), out var errno);
                if (sent > 0)
                {
                    placement.FileBytesSent += sent;
                    progressed = true;
                    continue;
                }

                if (sent == 0)
                {
                    throw new IOException("the file is shorter than the length placed");
                }

                if (errno == Native.EINTR)
                {
                    continue;
                }

                if (errno is Native.EINVAL or Native.ENOSYS or Native.EOPNOTSUPP)
                {
                    placement.CopyOnly = true; // a file the kernel cannot send: copy it
                }
                else if (errno != Native.EAGAIN)
                {
                    throw Native.ToSocketException(errno);
                }
                else if (progressed)
                {
                    return; // the socket is full: the placeholders sent so far can go
                }
            }

            await CopyChunkAsync(placement, (int)Math.Min(placement.CopyOnly ? CopyChunk : WaitChunk, left));
            return;
        }
    }

    /// <summary>Reads <paramref name="length"/> bytes of the placed file at its progress and sends them with the runtime's send (which waits for room).</summary>
    private async ValueTask CopyChunkAsync(FilePlacement placement, int length)
    {
        Interlocked.Increment(ref s_copiedChunks);
        var chunk = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var read = RandomAccess.Read(placement.File, chunk.AsSpan(0, length), placement.Offset + placement.FileBytesSent);
            if (read == 0)
            {
                throw new IOException("the file is shorter than the length placed");
            }

            var written = 0;
            while (written < read)
            {
                written += await _socket.SendAsync(chunk.AsMemory(written, read - written), SocketFlags.None);
            }

            placement.FileBytesSent += read;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>Ends the current placement (sent, or failed with <paramref name="error"/>) and releases its file.</summary>
    private void EndPlacement(Exception? error)
    {
        var placement = Interlocked.Exchange(ref _placement, null);
        if (placement is null)
        {
            return;
        }

        placement.Release();
        if (error is null)
        {
            placement.Completion.TrySetResult();
        }
        else
        {
            placement.Completion.TrySetException(error);
        }
    }

    private void FireConnectionClosed()
    {
        if (_closedScheduled)
        {
            return;
        }

        _closedScheduled = true;
        ThreadPool.UnsafeQueueUserWorkItem(static connection =>
        {
            try
            {
                connection._closedSource.Cancel();
            }
            catch (Exception e)
            {
                LogUnexpected(connection._logger, e, "close", connection.ConnectionId);
            }

            connection._closedFired.TrySetResult();
        }, this, preferLocal: false);
    }

    private void Shutdown(Exception? reason)
    {
        lock (_shutdownLock)
        {
            if (_socketDisposed)
            {
                return;
            }

            _socketDisposed = true;
            _shutdownReason = reason ?? new ConnectionAbortedException("The socket transport's send loop completed gracefully.");
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // tearing down anyway
            }

            _socket.Dispose();
        }
    }

    [LoggerMessage(EventId = LogEvents.TransportUnexpected, Level = LogLevel.Error, Message = "Connection {ConnectionId} failed to {Step}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string step, string connectionId);

    [LoggerMessage(EventId = LogEvents.TransportReceiveFailed, Level = LogLevel.Debug, Message = "Connection {ConnectionId} stopped receiving on an unexpected error")]
    private static partial void LogReceiveFailed(ILogger logger, Exception exception, string connectionId);

    private static bool IsReset(SocketError error) => error is SocketError.ConnectionReset or SocketError.Shutdown;

    private static bool IsAbort(SocketError error) => error is SocketError.OperationAborted or SocketError.Interrupted or SocketError.InvalidArgument;

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

/// <summary>A file placed in a connection's output (<see cref="SocketConnection.Place"/>).</summary>
internal sealed class FilePlacement
{
    public const int NonceLength = sizeof(ulong);

    private int _released;

    public FilePlacement(SafeFileHandle file, long offset, long count, long start)
    {
        var added = false;
        file.DangerousAddRef(ref added); // kept open until sent, whoever else closes it
        File = file;
        Offset = offset;
        Count = count;
        Start = start;
        Nonce = (ulong)Random.Shared.NextInt64() | 1;
    }

    public SafeFileHandle File { get; }

    public long Offset { get; }

    public long Count { get; }

    /// <summary>Position of the file's first byte in the connection's output.</summary>
    public long Start { get; }

    /// <summary>What the placeholders start with (little-endian), so the send loop can check it found them.</summary>
    public ulong Nonce { get; }

    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Send loop only: bytes of the file sent, placeholders dropped (never more than sent), and whether the kernel refused the file.</summary>
    public long FileBytesSent { get; set; }

    public long PlaceholdersDropped { get; set; }

    public bool CopyOnly { get; set; }

    /// <summary>Completes when the file has been handed to the socket (or fails with why the connection ended).</summary>
    public Task Sent => Completion.Task;

    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            File.DangerousRelease();
        }
    }
}
