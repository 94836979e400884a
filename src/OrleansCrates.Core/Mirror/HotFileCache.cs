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
            _cache.Set(key, new Entry(content, stored.ETag, stored.LastModified), new MemoryCacheEntryOptions { Size = content.Length + 128 });
        }
    }

    public void Dispose() => _cache?.Dispose();

    private sealed record Entry(byte[] Content, string ETag, DateTimeOffset LastModified)
    {
        public StoredObject Open() =>
            new(new MemoryStream(Content, 0, Content.Length, writable: false, publiclyVisible: true), Content.Length, ETag, LastModified);
    }
}
