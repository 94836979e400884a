using Microsoft.Extensions.Caching.Memory;
using OrleansCrates.Storage;

using OrleansCrates.Operations.Telemetry;

namespace OrleansCrates.Mirror;

/// <summary>
/// This node's memory layer for hot crate files, bounded by bytes (<c>Mirror:HotFileCacheBytes</c>, the budget). Crate
/// files are immutable, so an entry never goes stale. Only files up to the size limit are admitted; bigger ones always
/// stream from storage and are never held whole. Each entry is charged its content plus <see cref="EntryOverhead"/>;
/// a file that would take the layer over its budget is not admitted, and the layer then evicts the least recently used
/// entries in the background. A cached file is handed out as a read-only <see cref="MemoryStream"/> over the shared
/// array (no copy), or, for files of <see cref="MemoryFileMinimumBytes"/> and more on Linux, as a stream over a sealed
/// memory file (<see cref="SealedMemoryFile"/>, at most <see cref="MaxMemoryFiles"/> of them: each is a descriptor),
/// which the server can have the kernel send without copying. Lookups are counted (<see cref="Statistics"/>) for the
/// hit-ratio metric.
/// </summary>
public sealed class HotFileCache : IDisposable
{
    /// <summary>What an entry costs beyond its content (the entry, its key and headers), charged against the budget.</summary>
    public const int EntryOverhead = 128;

    /// <summary>Files this big and bigger are held in sealed memory files, which the kernel can send.</summary>
    public const int MemoryFileMinimumBytes = 16 * 1024;

    /// <summary>Memory files held at once: each is a file descriptor, and the node's sockets need theirs.</summary>
    public const int MaxMemoryFiles = 4096;

    private int _memoryFiles;

    private readonly MemoryCache? _cache;
    private readonly long _maxFileBytes;
    private long _hits;
    private long _misses;

    public HotFileCache(long capacityBytes, long maxFileBytes)
    {
        BudgetBytes = Math.Max(0, capacityBytes);
        _maxFileBytes = capacityBytes > 0 ? Math.Min(maxFileBytes, capacityBytes - EntryOverhead) : 0;
        _cache = _maxFileBytes > 0 ? new MemoryCache(new MemoryCacheOptions { SizeLimit = capacityBytes, TrackStatistics = true }) : null;
    }

    /// <summary>The configured budget in bytes (0: the layer is off).</summary>
    public long BudgetBytes { get; }

    /// <summary>Lookups and bytes held so far.</summary>
    public HotSetStatistics Statistics => new(
        BudgetBytes,
        _cache?.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0,
        Interlocked.Read(ref _hits),
        Interlocked.Read(ref _misses));

    public StoredObject? OpenOrNull(string key)
    {
        if (_cache is null)
        {
            return null;
        }

        if (_cache.Get<Entry>(key)?.Open() is { } hit)
        {
            Interlocked.Increment(ref _hits);
            return hit;
        }

        Interlocked.Increment(ref _misses);
        return null;
    }

    /// <summary>Whether the layer holds <paramref name="key"/> (not counted as a lookup).</summary>
    public bool Contains(string key) => _cache is not null && _cache.TryGetValue(key, out _);

    /// <summary>Reads a stored file into the layer if it is small enough and not there yet.</summary>
    public async Task WarmAsync(string key, IObjectStore store, CancellationToken cancellationToken)
    {
        if (_cache is null || _cache.TryGetValue(key, out _))
        {
            return;
        }

        var stored = await store.OpenReadOrNullAsync(key, cancellationToken);
        if (stored is null)
        {
            return;
        }

        await using (stored)
        {
            if (stored.Length > _maxFileBytes)
            {
                return; // big files always stream from storage
            }

            var content = new byte[stored.Length];
            await stored.Content.ReadExactlyAsync(content, cancellationToken);
            Add(key, content, stored.ETag, stored.LastModified);
        }
    }

    /// <summary>Admits one file's bytes if they fit the size limit (and the budget, else the layer makes room later).</summary>
    internal void Add(string key, byte[] content, string etag, DateTimeOffset lastModified)
    {
        if (_cache is null || content.Length > _maxFileBytes)
        {
            return;
        }

        var options = new MemoryCacheEntryOptions { Size = content.Length + EntryOverhead };
        if (content.Length >= MemoryFileMinimumBytes && Interlocked.Increment(ref _memoryFiles) <= MaxMemoryFiles)
        {
            if (SealedMemoryFile.CreateOrNull("crate", content) is { } file)
            {
                options.RegisterPostEvictionCallback(static (_, value, _, state) =>
                {
                    ((MemoryFileEntry)value!).File.Dispose(); // closed once the last reader lets go
                    Interlocked.Decrement(ref ((HotFileCache)state!)._memoryFiles);
                }, this);
                _cache.Set<Entry>(key, new MemoryFileEntry(file, content.Length, etag, lastModified), options);
                return;
            }
        }
        else if (content.Length < MemoryFileMinimumBytes)
        {
            _cache.Set<Entry>(key, new ArrayEntry(content, etag, lastModified), options);
            return;
        }

        Interlocked.Decrement(ref _memoryFiles); // no memory file after all: the bytes stay in the array
        _cache.Set<Entry>(key, new ArrayEntry(content, etag, lastModified), options);
    }

    public void Dispose() => _cache?.Dispose();

    private abstract record Entry(string ETag, DateTimeOffset LastModified)
    {
        /// <summary>A reader of the entry; null if it was evicted (its memory file closed) meanwhile.</summary>
        public abstract StoredObject? Open();
    }

    private sealed record ArrayEntry(byte[] Content, string ETag, DateTimeOffset LastModified) : Entry(ETag, LastModified)
    {
        public override StoredObject Open() =>
            new(new MemoryStream(Content, 0, Content.Length, writable: false, publiclyVisible: true), Content.Length, ETag, LastModified);
    }

    private sealed record MemoryFileEntry(Microsoft.Win32.SafeHandles.SafeFileHandle File, long Length, string ETag, DateTimeOffset LastModified) : Entry(ETag, LastModified)
    {
        public override StoredObject? Open() =>
            SealedMemoryFile.Open(File, Length) is { } stream ? new StoredObject(stream, Length, ETag, LastModified) : null;
    }
}
