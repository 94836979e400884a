using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

/// <summary>
/// The private Cargo registry: publish, the sparse index, crate files, yank, owners and search. Every node of a
/// cluster runs one over the same object store and they share nothing else: every change is a create-only or
/// ETag-conditional write retried on conflict, and every read goes to storage (memory only saves re-reading bytes
/// whose ETag has not changed), so a version is visible on every node once <see cref="PublishAsync"/> returns.
/// </summary>
public sealed partial class PrivateRegistry
{
    /// <summary>Attempts of one compare-and-swap update before giving up (409).</summary>
    internal const int MaxUpdateAttempts = 40;

    private const int NameCacheMaxEntries = 100_000;

    /// <summary>How long releasing the claim of a failed first publish may take (it runs after the request is gone).</summary>
    private static readonly TimeSpan ReleaseDeadline = TimeSpan.FromSeconds(30);

    private readonly IObjectStore _store;
    private readonly IUserDirectory _users;
    private readonly PublishSpool _spool;
    private readonly PrivateRegistryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, CachedIndex> _indexCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedName> _nameCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedMeta> _metaCache = new(StringComparer.Ordinal);
    private long _indexCacheBytes;

    public PrivateRegistry(
        IObjectStore store,
        IUserDirectory users,
        PublishSpool spool,
        IOptions<PrivateRegistryOptions> options,
        TimeProvider timeProvider,
        ILogger<PrivateRegistry> logger)
    {
        _store = store;
        _users = users;
        _spool = spool;
        _options = options.Value;
        _time = timeProvider;
        _logger = logger;
    }

    public PrivateRegistryOptions Options => _options;

    /// <summary>
    /// The crate's index file as stored now, with a strong ETag derived from its bytes (the same on every node);
    /// null when the crate has no index file. Cargo looks names up by their own spelling, so <c>foo_bar</c> does not
    /// find <c>foo-bar</c> here (cargo tries the other spellings itself).
    /// </summary>
    public async Task<PrivateIndexFile?> GetIndexFileAsync(CrateName name, CancellationToken ct)
    {
        var key = RegistryKeys.Index(name);
        var properties = await _store.GetPropertiesOrNullAsync(key, ct);
        if (properties is null)
        {
            ForgetIndex(key);
            return null;
        }

        if (_indexCache.TryGetValue(key, out var cached) && cached.StorageETag == properties.ETag)
        {
            return cached.File;
        }

        var stored = await _store.OpenReadOrNullAsync(key, ct);
        if (stored is null)
        {
            ForgetIndex(key);
            return null;
        }

        byte[] content;
        await using (stored)
        {
            content = await ReadAllAsync(stored, ct);
        }

        var file = new PrivateIndexFile(content, StrongETag.Of(content), stored.LastModified);
        RememberIndex(key, new CachedIndex(stored.ETag, file));
        return file;
    }

    /// <summary>
    /// Opens the file of <paramref name="version"/> (its exact spelling in the index, build metadata raw) for
    /// streaming. Yanked versions stay downloadable.
    /// </summary>
    public async Task<CrateFileLookup> OpenCrateFileAsync(CrateName name, string version, CancellationToken ct)
    {
        if (!CrateVersion.IsValid(version))
        {
            return CrateFileLookup.NotFound($"`{version}` is not a valid version");
        }

        var index = await GetIndexFileAsync(name, ct);
        if (index is null)
        {
            return CrateFileLookup.NotFound($"crate `{name}` does not exist");
        }

        var line = IndexFile.FindVersion(index.Content, version);
        if (line is null)
        {
            return CrateFileLookup.NotFound($"crate `{name}` has no version `{version}`");
        }

        var key = RegistryKeys.CrateFile(name, version, line.Checksum);
        var file = await _store.OpenReadOrNullAsync(key, ct);
        if (file is null)
        {
            Log.CrateFileMissing(_logger, name.Value, version, key);
            return CrateFileLookup.NotFound($"the file of `{name}` {version} is missing from storage");
        }

        return CrateFileLookup.Of(file, line.Checksum);
    }

    /// <summary>
    /// Whether a private crate has (or had claimed) this name, compared canonically (case and '-'/'_' ignored). Answers
    /// are remembered for <see cref="PrivateRegistryOptions.PrivateNameCacheTtl"/>; names this node publishes are
    /// known here at once. Invalid names are never private.
    /// </summary>
    public async Task<bool> IsPrivateCrateAsync(string canonicalName, CancellationToken ct)
    {
        if (!CrateName.TryParse(canonicalName, out var name))
        {
            return false;
        }

        return await IsPrivateCrateAsync(name.Value, ct);
    }

    /// <summary>Whether a private crate holds this (parsed) name: the mirror's per-request check, without parsing it again.</summary>
    public Task<bool> IsPrivateCrateAsync(CrateName name, CancellationToken ct)
    {
        var canonical = name.Canonical;
        if (_nameCache.TryGetValue(canonical, out var cached) && cached.Expires > _time.GetUtcNow())
        {
            return cached.Exists ? True : False;
        }

        return CheckPrivateNameAsync(name, ct);
    }

    private static readonly Task<bool> True = Task.FromResult(true);
    private static readonly Task<bool> False = Task.FromResult(false);

    /// <summary>The first spelling of every private crate (including names claimed by a publish that did not finish).</summary>
    public async IAsyncEnumerable<string> ListCrateNamesAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var properties in _store.ListAsync(RegistryKeys.MetaPrefix, ct))
        {
            if (RegistryKeys.CanonicalFromMetaKey(properties.Key) is null)
            {
                continue;
            }

            var meta = await ReadMetaCachedAsync(properties, ct);
            if (meta is not null)
            {
                yield return meta.Name;
            }
        }
    }

    private async Task<bool> CheckPrivateNameAsync(CrateName name, CancellationToken ct)
    {
        var exists = await _store.GetPropertiesOrNullAsync(RegistryKeys.Meta(name), ct) is not null;
        RememberPrivateName(name.Canonical, exists);
        return exists;
    }

    private void RememberPrivateName(string canonical, bool exists)
    {
        if (_options.PrivateNameCacheTtl <= TimeSpan.Zero)
        {
            return;
        }

        if (_nameCache.Count >= NameCacheMaxEntries)
        {
            _nameCache.Clear();
        }

        _nameCache[canonical] = new CachedName(exists, _time.GetUtcNow() + _options.PrivateNameCacheTtl);
    }

    private void RememberIndex(string key, CachedIndex entry)
    {
        var size = entry.File.Content.Length;
        if (size > _options.IndexCacheBytes)
        {
            ForgetIndex(key);
            return;
        }

        if (_indexCache.TryGetValue(key, out var previous))
        {
            Interlocked.Add(ref _indexCacheBytes, -previous.File.Content.Length);
        }

        if (Interlocked.Add(ref _indexCacheBytes, size) > _options.IndexCacheBytes)
        {
            // Over budget: start again. Every read revalidates against storage anyway, so this only costs re-reads.
            _indexCache.Clear();
            Interlocked.Exchange(ref _indexCacheBytes, size);
        }

        _indexCache[key] = entry;
    }

    private void ForgetIndex(string key)
    {
        if (_indexCache.TryRemove(key, out var removed))
        {
            Interlocked.Add(ref _indexCacheBytes, -removed.File.Content.Length);
        }
    }

    /// <summary>Reads and parses a crate's metadata straight from storage; null when the crate does not exist.</summary>
    private async Task<StoredMeta?> ReadMetaAsync(CrateName name, CancellationToken ct)
    {
        var key = RegistryKeys.Meta(name);
        var stored = await _store.ReadSmallOrNullAsync(key, ct);
        return stored is null ? null : new StoredMeta(ParseMeta(key, stored.Value.Content), stored.Value.ETag);
    }

    private async Task<CrateMeta?> ReadMetaCachedAsync(ObjectProperties properties, CancellationToken ct)
    {
        if (_metaCache.TryGetValue(properties.Key, out var cached) && cached.ETag == properties.ETag)
        {
            return cached.Meta;
        }

        var stored = await _store.ReadSmallOrNullAsync(properties.Key, ct);
        if (stored is null)
        {
            _metaCache.TryRemove(properties.Key, out _);
            return null;
        }

        CrateMeta meta;
        try
        {
            meta = ParseMeta(properties.Key, stored.Value.Content);
        }
        catch (InvalidDataException e)
        {
            Log.UnreadableMeta(_logger, properties.Key, e.Message);
            return null;
        }

        _metaCache[properties.Key] = new CachedMeta(stored.Value.ETag, meta);
        return meta;
    }

    private static CrateMeta ParseMeta(string key, byte[] content)
    {
        try
        {
            var meta = JsonSerializer.Deserialize(content, RegistryJsonContext.Default.CrateMeta);
            if (meta is null || !CrateName.IsValid(meta.Name) || meta.Owners is null)
            {
                throw new InvalidDataException($"crate metadata {key} has no valid name or owners");
            }

            return meta;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"crate metadata {key} is not valid JSON: {e.Message}", e);
        }
    }

    private static byte[] SerializeMeta(CrateMeta meta) => JsonSerializer.SerializeToUtf8Bytes(meta, RegistryJsonContext.Default.CrateMeta);

    private static CrateMeta CloneMeta(CrateMeta meta) =>
        JsonSerializer.Deserialize(SerializeMeta(meta), RegistryJsonContext.Default.CrateMeta)!;

    private static bool IsOwner(CrateMeta meta, string login) =>
        meta.Owners.Contains(login, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Compare-and-swap on <paramref name="key"/> through <see cref="ConditionalUpdate"/>: <paramref name="decide"/>
    /// computes the new content from the current one (null when absent); a decision without content writes nothing.
    /// Completed is false when other writers won <see cref="MaxUpdateAttempts"/> times in a row.
    /// </summary>
    private async Task<(bool Completed, T Result)> CompareAndSwapAsync<T>(string key, Func<byte[]?, UpdateDecision<T>> decide, CancellationToken ct)
    {
        var outcome = await _store.UpdateAsync(key, current => decide(current?.Content), ct, MaxUpdateAttempts);
        if (!outcome.Completed)
        {
            Log.TooManyConflicts(_logger, key, outcome.Conflicts);
        }

        return (outcome.Completed, outcome.Result);
    }

    private static async Task<byte[]> ReadAllAsync(StoredObject stored, CancellationToken ct)
    {
        using var buffer = new MemoryStream(stored.Length is > 0 and < int.MaxValue ? (int)stored.Length : 0);
        await stored.Content.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }

    private static RegistryError TooManyConflicts(CrateName name) =>
        RegistryError.Conflict($"crate `{name}` is being changed by too many requests at once; try again");

    private sealed record CachedIndex(string StorageETag, PrivateIndexFile File);

    private readonly record struct CachedName(bool Exists, DateTimeOffset Expires);

    private sealed record CachedMeta(string ETag, CrateMeta Meta);

    private sealed record StoredMeta(CrateMeta Meta, string ETag);
}
