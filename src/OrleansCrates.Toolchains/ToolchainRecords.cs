using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OrleansCrates.Storage;

namespace OrleansCrates.Toolchains;

/// <summary>A stored record as read: the document (its parts slices of one buffer), its storage ETag and size.</summary>
public sealed record StoredRecord(ToolchainDocument Document, string ETag, long Size);

/// <summary>What the mirror needs of one stored channel manifest: its date, whether it is a kept copy, and every archive's sha256 by path.</summary>
public sealed record ManifestListing(string Key, string ETag, string? Date, string? KeptFrom, IReadOnlyDictionary<string, string> Archives);

/// <summary>Whether and how a held manifest lists an archive (<see cref="ToolchainRecords.FindArchiveAsync"/>).</summary>
/// <param name="Sha256">The published sha256, from a manifest the policy allows (else from any that lists it).</param>
/// <param name="Allowed">A manifest the policy allows lists it.</param>
public sealed record ArchiveListing(string? Sha256, bool Allowed)
{
    public static readonly ArchiveListing NotListed = new(null, false);

    public bool Listed => Sha256 is not null;
}

/// <summary>
/// This node's reads of stored toolchain records, through one memory budget (<c>Toolchains:MemoryCacheBytes</c>): a
/// record is read once per stored version (its ETag) and then served from memory without copies; a manifest's archive
/// hashes are read from it once per version too. Finding the manifest that lists an archive reads only the manifests
/// under the archive's date (the mirror keeps every top-level manifest there as well), then the top-level ones.
/// </summary>
public sealed class ToolchainRecords : IDisposable
{
    private const string RecordPrefix = "r:";
    private const string ListingPrefix = "m:";

    private readonly IObjectStore _store;
    private readonly ToolchainOptions _options;
    private readonly MemoryCache _cache;

    public ToolchainRecords(IObjectStore store, IOptions<ToolchainOptions> options)
    {
        _store = store;
        _options = options.Value;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(1, _options.MemoryCacheBytes), TrackStatistics = true });
    }

    /// <summary>Bytes of records and listings held in memory now (estimated).</summary>
    public long CachedBytes => _cache.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0;

    /// <summary>
    /// The record at <paramref name="key"/>, or null when none is stored (or it is not a readable record, or larger than
    /// a record can be). One storage call; the bytes are read only when this node does not hold that version.
    /// </summary>
    public async Task<StoredRecord?> ReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        var stored = await _store.OpenReadOrNullAsync(key, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        await using (stored)
        {
            if (_cache.TryGetValue(RecordPrefix + key, out StoredRecord? held) && held!.ETag == stored.ETag)
            {
                return held;
            }

            if (stored.Length > _options.MaxRecordBytes || stored.Length < 2)
            {
                return null;
            }

            var bytes = new byte[stored.Length];
            await stored.Content.ReadExactlyAsync(bytes, cancellationToken);
            if (ToolchainDocument.TryDeserialize(bytes) is not { } document)
            {
                return null;
            }

            var record = new StoredRecord(document, stored.ETag, bytes.Length);
            _cache.Set(RecordPrefix + key, record, new MemoryCacheEntryOptions { Size = bytes.Length + 256 });
            return record;
        }
    }

    /// <summary>The archives the manifest record at <paramref name="key"/> lists (read once per version), or null when it is not a manifest.</summary>
    public async Task<ManifestListing?> ListingOrNullAsync(string key, string? etag, CancellationToken cancellationToken)
    {
        if (etag is not null && _cache.TryGetValue(ListingPrefix + key, out ManifestListing? known) && known!.ETag == etag)
        {
            return known;
        }

        if (await ReadOrNullAsync(key, cancellationToken) is not { } record)
        {
            return null;
        }

        if (_cache.TryGetValue(ListingPrefix + key, out known) && known!.ETag == record.ETag)
        {
            return known;
        }

        if (ToListing(key, record, _options.MaxManifestBytes) is not { } listing)
        {
            return null;
        }

        _cache.Set(ListingPrefix + key, listing, new MemoryCacheEntryOptions { Size = SizeOf(listing) });
        return listing;
    }

    /// <summary>Reads a manifest record's listing (no cache): null when its body is not a channel manifest.</summary>
    public static ManifestListing? ToListing(string key, StoredRecord record, long maxManifestBytes)
    {
        if (ChannelManifest.TryParse(record.Document.Body.Span, maxManifestBytes, out _) is not { } manifest)
        {
            return null;
        }

        var archives = new Dictionary<string, string>(manifest.Archives.Count, StringComparer.Ordinal);
        foreach (var archive in manifest.Archives)
        {
            archives[archive.Path] = archive.Sha256;
        }

        return new ManifestListing(key, record.ETag, record.Document.Date ?? manifest.Date, record.Document.KeptFrom, archives);
    }

    /// <summary>
    /// The sha256 a held manifest publishes for <paramref name="archivePath"/>, and whether a manifest the policy allows
    /// lists it: the manifests under the archive's date first (where every manifest the mirror stored is kept), then
    /// the top-level ones (records stored before dated copies were kept).
    /// </summary>
    public async Task<ArchiveListing> FindArchiveAsync(string archivePath, string? date, CancellationToken cancellationToken)
    {
        string? listedBy = null;
        if (ToolchainPath.IsDate(date))
        {
            await foreach (var found in ListingsAsync($"{ToolchainPath.DocsRoot}dist/{date}/", cancellationToken))
            {
                if (found.Archives.TryGetValue(archivePath, out var sha))
                {
                    if (Allows(found))
                    {
                        return new ArchiveListing(sha, true);
                    }

                    listedBy ??= sha;
                }
            }
        }

        await foreach (var found in ListingsAsync($"{ToolchainPath.DocsRoot}dist/channel-rust-", cancellationToken))
        {
            if (found.Archives.TryGetValue(archivePath, out var sha))
            {
                if (Allows(found))
                {
                    return new ArchiveListing(sha, true);
                }

                listedBy ??= sha;
            }
        }

        return listedBy is null ? ArchiveListing.NotListed : new ArchiveListing(listedBy, false);
    }

    /// <summary>
    /// Whether the policy allows the manifest a listing came from: a top-level one by its channel, a dated one by
    /// <c>CHANNEL-DATE</c>, or — the mirror's own dated copy of a top-level manifest — by that channel.
    /// </summary>
    public bool Allows(ManifestListing listing) =>
        ToolchainPath.ManifestOfKey(listing.Key) is { Channel: { } channel } path &&
        (_options.Allows(channel, path.Date) || (path.Date is not null && listing.KeptFrom is not null && _options.Allows(channel, null)));

    public void Dispose() => _cache.Dispose();

    private async IAsyncEnumerable<ManifestListing> ListingsAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var depth = prefix.Count(c => c == '/');
        await foreach (var stored in _store.ListAsync(prefix, cancellationToken))
        {
            // Only this folder's manifests (the file system lists deeper folders too).
            if (!stored.Key.EndsWith(".toml", StringComparison.Ordinal) || stored.Key.Count(c => c == '/') != depth)
            {
                continue;
            }

            if (await ListingOrNullAsync(stored.Key, stored.ETag, cancellationToken) is { } listing)
            {
                yield return listing;
            }
        }
    }

    private static long SizeOf(ManifestListing listing)
    {
        long size = 256;
        foreach (var (path, sha) in listing.Archives)
        {
            size += 64 + (2L * (path.Length + sha.Length));
        }

        return size;
    }
}
