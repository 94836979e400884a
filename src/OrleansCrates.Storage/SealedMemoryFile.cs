using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace OrleansCrates.Storage;

/// <summary>
/// Bytes held in a sealed in-memory file (Linux memfd_create(2)): memory like an array, but a file descriptor the kernel
/// can send from (sendfile) without the bytes passing through the process, and sealed so neither its size nor its
/// content can change once written. Readers share one handle (<see cref="Open"/>); the memory is freed when the last
/// reader and the owner have let go.
/// </summary>
public static partial class SealedMemoryFile
{
    private const uint MFD_CLOEXEC = 1;
    private const uint MFD_ALLOW_SEALING = 2;
    private const int F_ADD_SEALS = 1033;
    private const int F_SEAL_SEAL = 1;
    private const int F_SEAL_SHRINK = 2;
    private const int F_SEAL_GROW = 4;
    private const int F_SEAL_WRITE = 8;

    /// <summary>A sealed memory file holding <paramref name="content"/>; null where the platform has none or the kernel refused.</summary>
    public static SafeFileHandle? CreateOrNull(string name, ReadOnlySpan<byte> content)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var fd = MemfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
        {
            return null; // e.g. out of descriptors: the caller keeps the bytes in an array instead
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            RandomAccess.Write(handle, content, 0);
            if (AddSeals(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0)
            {
                return handle;
            }
        }
        catch (IOException)
        {
            // out of memory for the file: as refused
        }

        handle.Dispose();
        return null;
    }

    /// <summary>
    /// A read-only stream over <paramref name="file"/> (<paramref name="length"/> bytes) that keeps it open until
    /// disposed; null when the handle was already closed (the owner let it go).
    /// </summary>
    public static FileHandleStream? Open(SafeFileHandle file, long length)
    {
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return null;
        }

        return added ? new FileHandleStream(file, length) : null;
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int AddSeals(int fd, int command, int seals);
}

/// <summary>
/// A read-only stream over a shared file handle, reading at its own position (pread), so many readers can share one
/// handle. Holds a reference on the handle until disposed. <see cref="Handle"/> lets a server hand the file to the kernel.
/// </summary>
public sealed class FileHandleStream : Stream
{
    private readonly long _length;
    private long _position;
    private int _released;

    internal FileHandleStream(SafeFileHandle handle, long length)
    {
        Handle = handle;
        _length = length;
    }

    public SafeFileHandle Handle { get; }

    public override bool CanRead => _released == 0;

    public override bool CanSeek => _released == 0;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = Math.Clamp(value, 0, _length);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_released != 0, this);
        var want = (int)Math.Min(buffer.Length, _length - _position);
        if (want <= 0)
        {
            return 0;
        }

        var read = RandomAccess.Read(Handle, buffer[..want], _position);
        _position += read;
        return read;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span)); // memory: a read never waits on a device
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Handle.DangerousRelease();
        }

        base.Dispose(disposing);
    }
}
