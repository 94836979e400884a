using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.FileSystem;

/// <summary>
/// The embedded default store: one folder on a local disk, safe for several processes sharing it. Writes go to a
/// temp file under <c>.tmp/</c>, are flushed to disk, then made visible with one atomic link or rename. Create-only
/// commits call <c>link(2)</c> directly, which fails if the target exists (.NET's own move-without-overwrite checks and
/// then renames, which races); conditional replaces take an OS file lock on the key so compare-and-swap holds across
/// processes. ETags are the file's modification time and length, and a replace
/// always moves the time forward so no two versions of a key share an ETag.
/// </summary>
public sealed class FileSystemObjectStore : IObjectStore
{
    internal const string TempFolder = ".tmp";
    internal const string LockFolder = ".locks";

    private readonly string _root;
    private readonly string _tempRoot;
    private readonly string _lockRoot;

    public FileSystemObjectStore(IOptions<StorageOptions> options)
        : this(options.Value.FileSystem.Root)
    {
    }

    public FileSystemObjectStore(string root)
    {
        _root = Path.GetFullPath(root);
        _tempRoot = Path.Combine(_root, TempFolder);
        _lockRoot = Path.Combine(_root, LockFolder);
        Directory.CreateDirectory(_tempRoot);
        Directory.CreateDirectory(_lockRoot);
    }

    public string Root => _root;

    public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = PathFor(key);
        if (MissingPath.IsMissing(path))
        {
            return Task.FromResult<StoredObject?>(null); // the catch below is for a key deleted meanwhile
        }

        FileStream stream;
        try
        {
            stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0, // callers copy with their own buffers
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<StoredObject?>(null);
        }

        // Stat the handle we opened, not the path: a concurrent replace must not pair new metadata with old bytes.
        var length = RandomAccess.GetLength(stream.SafeFileHandle);
        var modified = File.GetLastWriteTimeUtc(stream.SafeFileHandle);
        return Task.FromResult<StoredObject?>(new StoredObject(stream, length, ETagOf(modified, length), new DateTimeOffset(modified, TimeSpan.Zero)));
    }

    public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var info = new FileInfo(PathFor(key));
        return Task.FromResult(info.Exists ? PropertiesOf(key, info) : null);
    }

    public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = PathFor(key);
        var temp = Path.Combine(_tempRoot, Guid.NewGuid().ToString("N"));
        var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
            Options = FileOptions.Asynchronous,
        });
        return Task.FromResult<IObjectUpload>(new Upload(this, key, path, temp, stream, condition));
    }

    /// <summary>
    /// Creates the key's folder on a thread-pool thread unless it exists. A new folder is a journal update, which took
    /// a millisecond per level on the cold path measured on ext4 (a crate file's is three levels deep), after upstream's
    /// answer; a caller that prepares before it asks upstream has them made while it waits.
    /// </summary>
    public Task PrepareWriteAsync(string key, CancellationToken cancellationToken)
    {
        var folder = Path.GetDirectoryName(PathFor(key))!;
        return Directory.Exists(folder) ? Task.CompletedTask : Task.Run(() => CreateFolderOrNot(folder), cancellationToken);
    }

    private static void CreateFolderOrNot(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The commit creates it again and reports what fails.
        }
    }

    public async Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken)
    {
        var path = PathFor(key);
        await using var keyLock = await FileLock.AcquireAsync(LockPathFor(key), cancellationToken);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            return DeleteResult.NotFound;
        }

        if (ifMatch is not null && ETagOf(info.LastWriteTimeUtc, info.Length) != ifMatch)
        {
            return DeleteResult.PreconditionFailed;
        }

        File.Delete(path);
        return DeleteResult.Deleted;
    }

    public async IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectKey.ValidatePrefix(prefix);
        await Task.Yield();
        // Start at the deepest folder the prefix names, then filter on the full key.
        var slash = prefix.LastIndexOf('/');
        var folder = slash < 0 ? _root : Path.Combine(_root, prefix[..slash]);
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        var enumeration = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden };
        foreach (var file in Directory.EnumerateFiles(folder, "*", enumeration))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (!key.StartsWith(prefix, StringComparison.Ordinal) || !ObjectKey.IsValid(key))
            {
                continue; // temp files, lock files and anything not written by this store
            }

            var info = new FileInfo(file);
            if (info.Exists)
            {
                yield return PropertiesOf(key, info);
            }
        }
    }

    /// <summary>
    /// Healthy when the root can be read; writable, separately, when a small probe file (a few blocks, so a full disk
    /// or quota shows) can be written and removed.
    /// </summary>
    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            _ = Directory.EnumerateFileSystemEntries(_root).Take(1).Count();
            if (!Directory.Exists(_tempRoot))
            {
                throw new DirectoryNotFoundException($"{_tempRoot} is missing");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult(new StorageHealth(false, "FileSystem", $"{_root}: {e.Message}") { Writable = false, WriteDetail = e.Message });
        }

        var probe = Path.Combine(_tempRoot, "health-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
            {
                stream.Write(HealthProbe); // unbuffered: write(2) itself reports a full disk or quota (no fsync per probe)
            }

            return Task.FromResult(new StorageHealth(true, "FileSystem", _root));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult(new StorageHealth(true, "FileSystem", _root) { Writable = false, WriteDetail = StorageWriteHealth.ShortCause(e) });
        }
        finally
        {
            try
            {
                File.Delete(probe);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Nothing was created, or the janitor removes it later.
            }
        }
    }

    private static readonly byte[] HealthProbe = new byte[16 * 1024];

    /// <summary>Removes temp files left behind by a crashed writer. Safe while other processes write.</summary>
    public void DeleteAbandonedTempFiles(TimeSpan olderThan)
    {
        var cutoff = DateTime.UtcNow - olderThan;
        foreach (var file in Directory.EnumerateFiles(_tempRoot))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(file) < cutoff)
                {
                    File.Delete(file);
                }
            }
            catch (IOException)
            {
                // Another process removed or is finishing it.
            }
        }
    }

    /// <summary>
    /// Removes lock files a killed process left behind (a live holder unlinks its own on release). Each is taken first,
    /// so a lock that is held right now is left alone. Safe while other processes work.
    /// </summary>
    public int DeleteAbandonedLockFiles()
    {
        var deleted = 0;
        foreach (var file in Directory.EnumerateFiles(_lockRoot))
        {
            using var abandoned = FileLock.TryAcquire(file);
            deleted += abandoned is null ? 0 : 1; // releasing it unlinks it
        }

        return deleted;
    }

    internal string PathFor(string key)
    {
        ObjectKey.Validate(key);
        var path = Path.GetFullPath(Path.Combine(_root, key));
        // ObjectKey already rules out escapes; this is the belt to its braces.
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Storage key '{key}' escapes the storage root.", nameof(key));
        }

        return path;
    }

    public string LockPathFor(string key) => Path.Combine(_lockRoot, key.Replace('/', '!') + ".lock");

    internal static string ETagOf(DateTime lastWriteUtc, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"\"{lastWriteUtc.Ticks:x}-{length:x}\"");

    private static ObjectProperties PropertiesOf(string key, FileInfo info) =>
        new(key, info.Length, ETagOf(info.LastWriteTimeUtc, info.Length), new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));

    private sealed class Upload(FileSystemObjectStore store, string key, string path, string temp, FileStream stream, WriteCondition condition) : IObjectUpload
    {
        private bool _finished;

        public Stream Content => stream;

        public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
        {
            if (_finished)
            {
                throw new InvalidOperationException("The upload was already committed.");
            }

            _finished = true;
            try
            {
                // A full disk or a quota shows up here at the latest: the temp file goes either way. Only durable writes
                // wait for the disk (fsync, milliseconds); a cache write is visible as atomically, through link or rename.
                await stream.FlushAsync(cancellationToken);
                if (condition.Durability == WriteDurability.Durable)
                {
                    stream.Flush(flushToDisk: true);
                }

                await stream.DisposeAsync();
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                return condition.Kind == WriteConditionKind.IfNotExists
                    ? CommitCreateOnly()
                    : await CommitReplaceAsync(cancellationToken);
            }
            finally
            {
                await DiscardAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_finished)
            {
                _finished = true;
                await DiscardAsync();
            }
        }

        /// <summary>Closes and deletes the temp file, even when closing fails (on a full disk, flushing can).</summary>
        private async ValueTask DiscardAsync()
        {
            try
            {
                await stream.DisposeAsync();
            }
            catch (IOException)
            {
                // The content is being thrown away; what matters is that the temp file goes.
            }
            finally
            {
                File.Delete(temp);
            }
        }

        private PutResult CommitCreateOnly()
        {
            if (!NoReplace.TryPublish(temp, path))
            {
                return new PutResult(PutStatus.AlreadyExists, null);
            }

            var info = new FileInfo(path);
            return new PutResult(PutStatus.Written, ETagOf(info.LastWriteTimeUtc, info.Length));
        }

        private async Task<PutResult> CommitReplaceAsync(CancellationToken cancellationToken)
        {
            await using var keyLock = await FileLock.AcquireAsync(store.LockPathFor(key), cancellationToken);
            var current = new FileInfo(path);
            if (condition.Kind == WriteConditionKind.IfMatch &&
                (!current.Exists || ETagOf(current.LastWriteTimeUtc, current.Length) != condition.ETag))
            {
                return new PutResult(PutStatus.PreconditionFailed, null);
            }

            // Keep ETags unique per key: the new version's time is strictly later than the old one's.
            var written = File.GetLastWriteTimeUtc(temp);
            if (current.Exists && written <= current.LastWriteTimeUtc)
            {
                written = current.LastWriteTimeUtc.AddTicks(1);
                File.SetLastWriteTimeUtc(temp, written);
            }

            var length = new FileInfo(temp).Length;
            File.Move(temp, path, overwrite: true); // rename(2): atomic replace
            return new PutResult(PutStatus.Written, ETagOf(written, length));
        }
    }
}
