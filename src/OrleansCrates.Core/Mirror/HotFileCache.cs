using Microsoft.Extensions.Caching.Memory;
using OrleansCrates.Storage;

namespace OrleansCrates.Core.Mirror;

/// <summary>
/// This node's memory layer for hot crate files, bounded by bytes. Crate files are immutable, so an entry never goes
/// stale. Only files up to the size limit are admitted; bigger ones always stream from storage and are never held
/// whole. A cached file is handed out as a read-only <see cref="MemoryStream"/> over the shared array (no copy).
/// </summary>
public sealed class HotFileCache : IDisposable
{
    private readonly MemoryCache? _cache;
    private readonly long _maxFileBytes;

    public HotFileCache(long capacityBytes, long maxFileBytes)
    {
        _maxFileBytes = capacityBytes > 0 ? Math.Min(maxFileBytes, capacityBytes) : 0;
        _cache = _maxFileBytes > 0 ? new MemoryCache(new MemoryCacheOptions { SizeLimit = capacityBytes }) : null;
    }

    public StoredObject? OpenOrNull(string key) =>
        _cache?.Get<Entry>(key) is { } hit ? hit.Open() : null;

    /// <summary>Returns <paramref name="stored"/> as it is if it is too big to keep; otherwise reads it, keeps it, and returns the copy.</summary>
    public async Task<StoredObject> AdmitAsync(string key, StoredObject stored, CancellationToken cancellationToken)
    {
        if (_cache is null || stored.Length > _maxFileBytes)
        {
            return stored;
        }

        var content = new byte[stored.Length];
        await using (stored)
        {
            await stored.Content.ReadExactlyAsync(content, cancellationToken);
        }

        var entry = new Entry(content, stored.ETag, stored.LastModified);
        _cache.Set(key, entry, new MemoryCacheEntryOptions { Size = content.Length + 128 });
        return entry.Open();
    }

    public void Dispose() => _cache?.Dispose();

    private sealed record Entry(byte[] Content, string ETag, DateTimeOffset LastModified)
    {
        public StoredObject Open() =>
            new(new MemoryStream(Content, 0, Content.Length, writable: false, publiclyVisible: true), Content.Length, ETag, LastModified);
    }
}
