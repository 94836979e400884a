using Microsoft.Win32.SafeHandles;

namespace OrleansCrates.Mirror.Streaming;

/// <summary>
/// The bytes of one cold download as they arrive, on the node that downloads them: a temporary file the download
/// writes while it hashes (memory, for one announced at most <see cref="MemoryMaxBytes"/>), which any number of readers on this node follow as it grows (<see cref="OpenReader"/>).
/// Readers never see the end of the file until the download is verified: the last byte is held back until
/// <see cref="Complete"/>, so a client can never finish a wrong body; <see cref="Fail"/> breaks every reader's stream
/// instead (the client sees a broken transfer). Other nodes follow it over the internal HTTP listener by its
/// <see cref="Id"/> (<see cref="SpoolRelay"/>), never through grain messages. The file is deleted when the writer and
/// its last reader are done.
/// </summary>
public sealed class InFlightSpool : IDisposable
{
    /// <summary>
    /// A download whose announced length is at most this is spooled in memory instead of a file: most crate files are
    /// (a temp file is two journal updates, created and deleted, on a cold request's path). Bounded by the length
    /// upstream announced, which the download never exceeds (it fails first).
    /// </summary>
    public const int MemoryMaxBytes = 256 * 1024;

    private readonly Lock _gate = new();
    private readonly SafeFileHandle? _file;
    private readonly byte[]? _memory;
    private TaskCompletionSource _grew = NewSignal();
    private readonly TaskCompletionSource<bool> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;
    private int _state; // 0 writing, 1 verified, 2 failed
    private string? _error;
    private int _references = 1; // the writer's

    internal InFlightSpool(string key, string directory, long? expectedLength, string? sha256)
    {
        Key = key;
        ExpectedLength = expectedLength;
        Sha256 = sha256;
        Id = System.Security.Cryptography.RandomNumberGenerator.GetHexString(32, lowercase: true);
        if (expectedLength is > 0 and <= MemoryMaxBytes)
        {
            _memory = new byte[expectedLength.Value];
            return;
        }

        Directory.CreateDirectory(directory);
        _file = File.OpenHandle(
            Path.Combine(directory, $"spool-{Guid.NewGuid():N}.tmp"),
            FileMode.CreateNew,
            FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);
    }

    public string Key { get; }

    /// <summary>
    /// 128 random bits naming this spool to other nodes: only the owner's grain hands it out, so knowing it is the
    /// permission to read (together with the internal listener being reachable from the cluster only).
    /// </summary>
    public string Id { get; }

    /// <summary>The sha256 the bytes must have (the index's or the manifest's), when the writer knows it.</summary>
    public string? Sha256 { get; }

    /// <summary>The length upstream announced, when it did; a body of another length is never completed.</summary>
    public long? ExpectedLength { get; }

    public long Written => Interlocked.Read(ref _written);

    /// <summary>
    /// Completes when the download has an outcome: true when every byte arrived and verified (<see cref="Complete"/>),
    /// false when it failed. Never faults.
    /// </summary>
    public Task<bool> Finished => _finished.Task;

    /// <summary>Still being written, verified (readers may finish), or failed (readers break).</summary>
    public SpoolState State => (SpoolState)Volatile.Read(ref _state);

    /// <summary>Appends the next bytes the download received (before they are verified).</summary>
    public async ValueTask AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (_memory is not null)
        {
            if (Written + bytes.Length > _memory.Length)
            {
                throw new IOException($"more than the {_memory.Length} bytes announced");
            }

            bytes.Span.CopyTo(_memory.AsSpan((int)Written));
        }
        else
        {
            await RandomAccess.WriteAsync(_file!, bytes, Written, cancellationToken);
        }

        Interlocked.Add(ref _written, bytes.Length);
        Signal();
    }

    /// <summary>Every byte arrived and matched its published sha256: readers may deliver the rest and end.</summary>
    public void Complete() => Finish(1, null);

    /// <summary>The download failed or did not verify: every reader's stream breaks with <paramref name="error"/>.</summary>
    public void Fail(string error) => Finish(2, error);

    /// <summary>A stream over the download from its first byte, following it as it grows; null once the spool is gone.</summary>
    public Stream? OpenReader()
    {
        lock (_gate)
        {
            if (_references == 0 || _state == 2)
            {
                return null;
            }

            _references++;
        }

        return new Reader(this);
    }

    /// <summary>The writer is done with the spool (after <see cref="Complete"/> or <see cref="Fail"/>).</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _state) == 0)
        {
            Fail("the download ended without an outcome");
        }

        Release();
    }

    private void Finish(int state, string? error)
    {
        lock (_gate)
        {
            if (_state != 0)
            {
                return;
            }

            _error = error;
            _state = state;
        }

        Signal();
        _finished.TrySetResult(state == 1);
    }

    private void Signal()
    {
        var grew = Interlocked.Exchange(ref _grew, NewSignal());
        grew.TrySetResult();
    }

    private void Release()
    {
        lock (_gate)
        {
            if (--_references > 0)
            {
                return;
            }
        }

        _file?.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One reader's position in the spool.</summary>
    private sealed class Reader(InFlightSpool spool) : Stream
    {
        private long _position;
        private int _disposed;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (true)
            {
                var grew = Volatile.Read(ref spool._grew).Task;
                var state = Volatile.Read(ref spool._state);
                if (state == 2)
                {
                    throw new IOException($"the upstream download broke off: {spool._error}");
                }

                // Until the file is verified the last byte stays back, so no client ever completes an unverified body.
                var available = spool.Written - (state == 1 ? 0 : 1);
                if (available > _position)
                {
                    var count = (int)Math.Min(buffer.Length, available - _position);
                    if (spool._memory is { } memory)
                    {
                        memory.AsMemory((int)_position, count).CopyTo(buffer);
                        _position += count;
                        return count;
                    }

                    var read = await RandomAccess.ReadAsync(spool._file!, buffer[..count], _position, cancellationToken);
                    _position += read;
                    return read;
                }

                if (state == 1)
                {
                    return 0;
                }

                await grew.WaitAsync(cancellationToken);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                spool.Release();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>Where an <see cref="InFlightSpool"/> is.</summary>
public enum SpoolState
{
    /// <summary>Bytes are still arriving; readers get all but the last byte so far.</summary>
    Writing,

    /// <summary>Every byte arrived and verified: readers deliver the rest and end.</summary>
    Verified,

    /// <summary>The download failed or did not verify: every reader's stream breaks.</summary>
    Failed,
}
