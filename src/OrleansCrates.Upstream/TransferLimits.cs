using System.Diagnostics;

namespace OrleansCrates.Upstream;

/// <summary>
/// How long one upstream body may take, counted from its response headers: no read may wait longer than
/// <see cref="Idle"/>; after <see cref="Grace"/> the body must keep up an average of <see cref="MinBytesPerSecond"/>
/// (by time t, at least (t − grace) × rate bytes), so a slow drip fails within seconds of falling behind instead of
/// resetting an idle timer one byte at a time; and the whole body must arrive within <see cref="Deadline"/>.
/// </summary>
public readonly record struct TransferLimits(TimeSpan Idle, TimeSpan Grace, long MinBytesPerSecond, TimeSpan Deadline)
{
    /// <summary>
    /// How long the next read may wait after <paramref name="received"/> bytes in <paramref name="elapsed"/>; zero or
    /// less means the transfer is already too slow. The second value says which limit is the nearest.
    /// </summary>
    public (TimeSpan Wait, string Limit) NextReadBudget(long received, TimeSpan elapsed)
    {
        var wait = Idle;
        var limit = $"sent nothing for {Idle.TotalSeconds:0.#} s";
        var deadline = Deadline - elapsed;
        if (deadline < wait)
        {
            wait = deadline;
            limit = $"the transfer deadline of {Deadline.TotalSeconds:0.#} s passed";
        }

        if (MinBytesPerSecond > 0)
        {
            var behind = Grace + TimeSpan.FromSeconds((double)received / MinBytesPerSecond) - elapsed;
            if (behind < wait)
            {
                wait = behind;
                limit = $"fell below {MinBytesPerSecond} bytes/s after a grace of {Grace.TotalSeconds:0.#} s";
            }
        }

        return (wait, limit);
    }
}

/// <summary>
/// A read-only stream over an upstream body that enforces <see cref="TransferLimits"/> on every read: a read that
/// would break a limit fails with a <see cref="TimeoutException"/> (whose message ends in "timed out"), which callers
/// treat as an upstream failure and fail over. Real time (a stopwatch), as the socket's own timeouts are.
/// </summary>
internal sealed class TransferLimitedStream(Stream inner, TransferLimits limits) : Stream
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _received;

    /// <summary>
    /// The limit that fired while a read was completing with bytes anyway. HttpClient tears the connection down when a
    /// read's token is cancelled, so the next read may find its stream disposed: that is this limit, not a bug.
    /// </summary>
    private string? _firedLate;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var (wait, limit) = limits.NextReadBudget(_received, Stopwatch.GetElapsedTime(_started));
        if (wait <= TimeSpan.Zero)
        {
            throw TooSlow(limit);
        }

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(wait);
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, bounded.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw TooSlow(limit);
        }
        catch (ObjectDisposedException) when (_firedLate is { } fired && !cancellationToken.IsCancellationRequested)
        {
            throw TooSlow(fired);
        }

        if (bounded.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            _firedLate = limit;
        }

        _received += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private TimeoutException TooSlow(string limit) =>
        new($"upstream {limit} ({_received} bytes in {Stopwatch.GetElapsedTime(_started).TotalSeconds:0.#} s): timed out");
}
