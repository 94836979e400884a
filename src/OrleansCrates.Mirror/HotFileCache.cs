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
/// array (no copy). Lookups are counted (<see cref="Statistics"/>) for the hit-ratio metric.
/// </summary>
public sealed class HotFileCache : IDisposable
{
    /// <summary>What an entry costs beyond its content (the entry, its key and headers), charged against the budget.</summary>
    public const int EntryOverhead = 128;

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

        if (_cache.Get<Entry>(key) is { } hit)
        {
            Interlocked.Increment(ref _hits);
            return hit.Open();
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
        if (_cache is not null && content.Length <= _maxFileBytes)
        {
            _cache.Set(key, new Entry(content, etag, lastModified), new MemoryCacheEntryOptions { Size = content.Length + EntryOverhead });
        }
    }

    public void Dispose() => _cache?.Dispose();

    private sealed record Entry(byte[] Content, string ETag, DateTimeOffset LastModified)
    {
        public StoredObject Open() =>
            new(new MemoryStream(Content, 0, Content.Length, writable: false, publiclyVisible: true), Content.Length, ETag, LastModified);
    }
}
