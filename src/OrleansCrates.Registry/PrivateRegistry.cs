using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

/// <summary>
/// The private Cargo registry's front end: publish's checks, the sparse index, crate files, owners' reads and search.
/// Every node of a cluster runs one over the same object store. Changes to a crate (publish's commit, yank, owners,
/// release) go to its writer (<see cref="IPrivateCrateWriters"/>: the crate's grain on a server, one writer for the
/// cluster; <see cref="LocalPrivateCrateWriters"/> elsewhere), whose writes are create-only or ETag-conditional. Every
/// read goes to storage (memory only saves re-reading bytes whose ETag has not changed), so a version is visible on
/// every node once <see cref="PublishAsync(string, Stream, CancellationToken)"/> returns.
/// </summary>
public sealed partial class PrivateRegistry
{
    private const int NameCacheMaxEntries = 100_000;

    private readonly IObjectStore _store;
    private readonly IUserDirectory _users;
    private readonly PublishSpool _spool;
    private readonly IPrivateCrateWriters _writers;
    private readonly PrivateRegistryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, CachedIndex> _indexCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedName> _nameCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedName>.AlternateLookup<ReadOnlySpan<char>> _nameCacheByName;
    private readonly ConcurrentDictionary<string, CachedMeta> _metaCache = new(StringComparer.Ordinal);
    private long _indexCacheBytes;

    /// <summary>A registry whose changes go to <paramref name="writers"/> (on a server: the crates' grains).</summary>
    public PrivateRegistry(
        IObjectStore store,
        IUserDirectory users,
        PublishSpool spool,
        IPrivateCrateWriters writers,
        IOptions<PrivateRegistryOptions> options,
        TimeProvider timeProvider,
        ILogger<PrivateRegistry> logger)
    {
        _store = store;
        _users = users;
        _spool = spool;
        _writers = writers;
        _options = options.Value;
        _time = timeProvider;
        _logger = logger;
        _nameCacheByName = _nameCache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>A registry that makes its changes itself, in this process (<see cref="LocalPrivateCrateWriters"/> over <paramref name="store"/>).</summary>
    public PrivateRegistry(
        IObjectStore store,
        IUserDirectory users,
        PublishSpool spool,
        IOptions<PrivateRegistryOptions> options,
        TimeProvider timeProvider,
        ILogger<PrivateRegistry> logger)
        : this(store, users, spool, new LocalPrivateCrateWriters(new PrivateCrateWriter(store, timeProvider, NullLogger<PrivateCrateWriter>.Instance)), options, timeProvider, logger)
    {
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
        Span<char> canonical = stackalloc char[CrateName.MaxLength];
        if (_nameCacheByName.TryGetValue(canonical[..name.WriteCanonical(canonical)], out var cached) && cached.Expires > _time.GetUtcNow())
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

    private Task<StoredMeta?> ReadMetaAsync(CrateName name, CancellationToken ct) => CrateMetaDocument.ReadAsync(_store, name, ct);

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

        var (meta, unreadable) = CrateMetaDocument.TryParse(properties.Key, stored.Value.Content);
        if (meta is null)
        {
            Log.UnreadableMeta(_logger, properties.Key, unreadable!);
            return null;
        }

        _metaCache[properties.Key] = new CachedMeta(stored.Value.ETag, meta);
        return meta;
    }

    private static async Task<byte[]> ReadAllAsync(StoredObject stored, CancellationToken ct)
    {
        using var buffer = new MemoryStream(stored.Length is > 0 and < int.MaxValue ? (int)stored.Length : 0);
        await stored.Content.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }

    private sealed record CachedIndex(string StorageETag, PrivateIndexFile File);

    private readonly record struct CachedName(bool Exists, DateTimeOffset Expires);

    private sealed record CachedMeta(string ETag, CrateMeta Meta);
}
