using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace OrleansCrates.Storage.FileSystem;

/// <summary>
/// An exclusive OS lock on a file (flock on Linux), held until disposed. The kernel drops it when the holding process
/// dies, so a crashed holder never leaves it stuck. Works across processes sharing one folder.
/// <para>
/// The lock file exists only while the lock is held: the holder unlinks it before letting go, so probing a million
/// names leaves nothing behind. Whoever opened the old file meanwhile and then wins its lock sees that the file has no
/// name any more (its link count is 0) and starts over on the path, so at most one holder ever holds a file that is
/// reachable by name. (Linux only, through statx(2); elsewhere the file stays.)
/// </para>
/// </summary>
public sealed partial class FileLock : IAsyncDisposable, IDisposable
{
    private readonly FileStream _stream;
    private readonly string _path;
    private int _released;

    private FileLock(FileStream stream, string path)
    {
        _stream = stream;
        _path = path;
    }

    /// <summary>Takes the lock now, or returns null if another holder has it.</summary>
    public static FileLock? TryAcquire(string path)
    {
        var folder = Path.GetDirectoryName(path)!;
        while (true)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (DirectoryNotFoundException)
            {
                Directory.CreateDirectory(folder);
                continue;
            }
            catch (IOException)
            {
                return null;
            }

            if (OperatingSystem.IsLinux() && IsUnlinked(stream.SafeFileHandle))
            {
                // We locked a file its previous holder had already unlinked on release: try the path again.
                stream.Dispose();
                continue;
            }

            return new FileLock(stream, path);
        }
    }

    /// <summary>Waits for the lock, polling with a short backoff, until cancelled.</summary>
    public static async Task<FileLock> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            var held = TryAcquire(path);
            if (held is not null)
            {
                return held;
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 50));
        }
    }

    public void Dispose()
    {
        if (Release())
        {
            _stream.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Release())
        {
            await _stream.DisposeAsync();
        }
    }

    /// <summary>Unlinks the lock file while still holding the lock (the only moment that is safe); true the first time.</summary>
    private bool Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return false;
        }

        if (OperatingSystem.IsLinux())
        {
            try
            {
                File.Delete(_path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for the janitor (FileSystemObjectStore.DeleteAbandonedLockFiles); the lock itself is still released.
            }
        }

        return true;
    }

    /// <summary>Whether the open file has no name left (its link count is 0), via statx(2) on the descriptor.</summary>
    private static bool IsUnlinked(SafeFileHandle handle)
    {
        const int AtEmptyPath = 0x1000;
        const uint StatxNlink = 0x4;
        const int NlinkOffset = 16; // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink
        Span<byte> buffer = stackalloc byte[256];
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (Statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxNlink, ref MemoryMarshal.GetReference(buffer)) != 0)
            {
                throw new IOException($"statx on a lock file failed with errno {Marshal.GetLastPInvokeError()}.");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        return BitConverter.ToUInt32(buffer[NlinkOffset..]) == 0;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, ref byte buffer);
}
