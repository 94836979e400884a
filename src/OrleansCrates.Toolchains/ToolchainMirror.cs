using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Coordination;
using OrleansCrates.Core.Streaming;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Toolchains;

/// <summary>
/// The rustup toolchain mirror on this node, in two halves like the crates'. The node's half
/// (<see cref="OpenAsync"/>) serves what storage holds — immutable files as they are, moving ones (top-level
/// manifests, <c>release-stable.toml</c>, <c>rustup-init</c>) while younger than <c>Toolchains:ManifestTtl</c> — and
/// hands everything else to the file's owner (<see cref="IToolchainOwners"/>: one grain per file for the cluster); a
/// cold archive streams to the request as it arrives, from this node's spool or relayed from the downloading node's. The owner's half
/// (<see cref="EnsureAsOwnerAsync"/>) fetches from the dist servers and stores only what verifies: a manifest with a
/// matching <c>.sha256</c> (as one pair), an archive whose sha256 a held manifest publishes, a rustup binary matching
/// its <c>.sha256</c>. When upstream is down, whatever was stored is served, moving files with their age.
/// </summary>
public sealed partial class ToolchainMirror
{
    private const string DocsPrefix = "toolchains/docs/dist/";

    private readonly IObjectStore _store;
    private readonly ToolchainUpstreams _upstreams;
    private readonly ToolchainOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ToolchainMirror> _logger;
    private readonly CancellationToken _stopping;
    private readonly InFlightSpools? _spools;
    private readonly IToolchainOwners _owners;
    private readonly ConcurrentDictionary<string, string> _publishedHashes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _readManifests = new(StringComparer.Ordinal);
    private long _upstreamArchiveFetches;

    public ToolchainMirror(
        IObjectStore store,
        ToolchainUpstreams upstreams,
        IOptions<ToolchainOptions> options,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        ILogger<ToolchainMirror> logger,
        InFlightSpools? spools = null,
        IToolchainOwners? owners = null)
    {
        _store = store;
        _upstreams = upstreams;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _stopping = lifetime.ApplicationStopping;
        _spools = spools;
        _owners = owners ?? new LocalToolchainOwners(this);
    }

    public ToolchainOptions Options => _options;

    public bool IsStopping => _stopping.IsCancellationRequested;

    /// <summary>Archive downloads this node started as an owner (for tests and the dashboard).</summary>
    public long UpstreamArchiveFetches => Interlocked.Read(ref _upstreamArchiveFetches);

    /// <summary>Makes sure a file is stored (through its owner, fetched once for the cluster), without opening it.</summary>
    public Task<ToolchainFetch> EnsureAsync(ToolchainPath path, CancellationToken cancellationToken) =>
        _owners.EnsureAsync(path.OwnerPath, cancellationToken);

    /// <summary>Opens a toolchain file for one request. Dispose the result.</summary>
    public async Task<ToolchainResponse> OpenAsync(ToolchainPath path, CancellationToken cancellationToken)
    {
        if (path.Channel is { } channel && !_options.Allows(channel, path.Date))
        {
            return new ToolchainResponse(ToolchainServeStatus.Refused, $"toolchain '{channel}{(path.Date is null ? "" : "-" + path.Date)}' is not allowed by this mirror's policy (Toolchains:AllowedChannels)");
        }

        return path.IsDocument ? await OpenDocumentAsync(path, cancellationToken) : await OpenFileAsync(path, cancellationToken);
    }

    private async Task<ToolchainResponse> OpenFileAsync(ToolchainPath path, CancellationToken cancellationToken)
    {
        if (await OpenStoredOrNullAsync(path.FileKey, cancellationToken) is { } warm)
        {
            return warm;
        }

        var ensure = _owners.EnsureAsync(path.OwnerPath, cancellationToken);
        if (path.Kind == ToolchainFileKind.Archive && _spools is not null && !ensure.IsCompleted &&
            await _spools.FollowAsync(path.FileKey, ensure, ct => _owners.LocateDownloadAsync(path.OwnerPath, ct), cancellationToken) is { } live)
        {
            _ = ensure.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // its outcome reaches the client through the stream
            return new ToolchainResponse(ToolchainServeStatus.Found) { Content = live.Content, Length = live.Length, Streaming = true, FromUpstream = true };
        }

        var fetched = await ensure;
        if (fetched.Status is not (ToolchainFetchStatus.Stored or ToolchainFetchStatus.Stale))
        {
            return ToolchainResponse.From(fetched, path.Path);
        }

        return await OpenStoredOrNullAsync(path.FileKey, cancellationToken) is { } stored
            ? stored with { FromUpstream = fetched.FromUpstream }
            : new ToolchainResponse(ToolchainServeStatus.Unavailable, "the stored file vanished", TimeSpan.FromSeconds(1));
    }

    private async Task<ToolchainResponse> OpenDocumentAsync(ToolchainPath path, CancellationToken cancellationToken)
    {
        var document = await ReadDocumentOrNullAsync(path.DocumentKey, cancellationToken);
        var fromUpstream = false;
        string? staleReason = null;
        if (document is null || (path.Moving && IsStale(document.Value.Document)))
        {
            var fetched = await _owners.EnsureAsync(path.OwnerPath, cancellationToken);
            var reread = await ReadDocumentOrNullAsync(path.DocumentKey, cancellationToken);
            if (reread is null)
            {
                return ToolchainResponse.From(fetched, path.Path);
            }

            document = reread;
            fromUpstream = fetched.FromUpstream;
            staleReason = fetched.Status == ToolchainFetchStatus.Stored ? null : fetched.Error ?? "upstream unavailable";
        }

        var doc = document.Value.Document;
        var age = _time.GetUtcNow() - doc.FetchedAt;
        var response = await PartAsync(path, doc, document.Value.ETag, cancellationToken);
        return response with { Age = path.Moving ? (age < TimeSpan.Zero ? TimeSpan.Zero : age) : null, Stale = staleReason is not null, FromUpstream = fromUpstream };
    }

    /// <summary>The part of a stored record a path names (a manifest's body, its .sha256 or .asc; a binary's content).</summary>
    private async Task<ToolchainResponse> PartAsync(ToolchainPath path, ToolchainDocument doc, string etag, CancellationToken cancellationToken)
    {
        byte[]? bytes = path.Kind switch
        {
            ToolchainFileKind.Manifest or ToolchainFileKind.RustupRelease => doc.Body,
            ToolchainFileKind.ManifestSha256 or ToolchainFileKind.RustupBinarySha256 => doc.Sha256File,
            ToolchainFileKind.ManifestSignature => doc.Signature,
            _ => null,
        };
        if (path.Kind == ToolchainFileKind.RustupBinary)
        {
            return doc.PublishedSha256 is { } sha && await OpenStoredOrNullAsync(ToolchainPath.BlobKey(sha), cancellationToken) is { } blob
                ? blob
                : new ToolchainResponse(ToolchainServeStatus.Unavailable, "the stored binary vanished", TimeSpan.FromSeconds(1));
        }

        return bytes is null
            ? new ToolchainResponse(ToolchainServeStatus.NotFound, $"upstream has no {path.Path}")
            : new ToolchainResponse(ToolchainServeStatus.Found) { Content = new MemoryStream(bytes, writable: false), Length = bytes.Length, ETag = etag };
    }

    private bool IsStale(ToolchainDocument doc) => _time.GetUtcNow() - doc.FetchedAt >= _options.ManifestTtl;

    private async Task<ToolchainResponse?> OpenStoredOrNullAsync(string key, CancellationToken cancellationToken)
    {
        var stored = await _store.OpenReadOrNullAsync(key, cancellationToken);
        return stored is null
            ? null
            : new ToolchainResponse(ToolchainServeStatus.Found) { Content = stored.Content, Length = stored.Length, ETag = stored.ETag };
    }

    private async Task<(ToolchainDocument Document, string ETag)?> ReadDocumentOrNullAsync(string key, CancellationToken cancellationToken)
    {
        var bytes = await _store.ReadSmallOrNullAsync(key, cancellationToken);
        return bytes is { } found && ToolchainDocument.TryDeserialize(found.Content) is { } doc ? (doc, found.ETag) : null;
    }

    /// <summary>
    /// The owner's half: makes sure the file at <paramref name="ownerPath"/> is stored and current, fetching and
    /// verifying it upstream if need be. Runs once per file at a time for the cluster (its grain); never under a
    /// caller's cancellation.
    /// </summary>
    public async Task<ToolchainFetch> EnsureAsOwnerAsync(string ownerPath)
    {
        if (!ToolchainPath.TryParse(ownerPath, out var path))
        {
            return new ToolchainFetch(ToolchainFetchStatus.NotFound, $"not a toolchain path: {ownerPath}");
        }

        try
        {
            return path.Kind switch
            {
                ToolchainFileKind.Manifest => await EnsureManifestAsync(path),
                ToolchainFileKind.RustupRelease => await EnsureReleaseAsync(path),
                ToolchainFileKind.RustupBinary => await EnsureRustupBinaryAsync(path),
                ToolchainFileKind.Archive => await EnsureArchiveAsync(path),
                ToolchainFileKind.ArchiveSidecar => await EnsureSidecarAsync(path),
                _ => new ToolchainFetch(ToolchainFetchStatus.NotFound, $"{ownerPath} is served from its owner's record"),
            };
        }
        catch (Exception e) when (StorageWriteHealth.IsStorageFailure(e) || e is StorageUnavailableException)
        {
            LogStorageFailed(_logger, ownerPath, e.Message);
            return new ToolchainFetch(ToolchainFetchStatus.StorageUnavailable, $"{ownerPath}: storage failed: {e.Message}", TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>
    /// The owner's answer to "where does this archive download": this node's spool of it as soon as its bytes arrive
    /// (<paramref name="flight"/> is the owner's fetch of it), or null when the fetch is over first, the path is not an
    /// archive, or this node spools nothing.
    /// </summary>
    public Task<SpoolLocation?> LocateDownloadAsOwnerAsync(string ownerPath, Task flight, CancellationToken cancellationToken) =>
        _spools is not null && ToolchainPath.TryParse(ownerPath, out var path) && path.Kind == ToolchainFileKind.Archive
            ? _spools.LocateAsync(path.FileKey, flight, cancellationToken)
            : Task.FromResult<SpoolLocation?>(null);

    /// <summary>
    /// A channel manifest: a dated one is fetched once and kept; a top-level one is revalidated after the TTL by its
    /// <c>.sha256</c> (unchanged: only the time is renewed). A new body is stored with its <c>.sha256</c> and
    /// <c>.asc</c> as one object, and only if its sha256 matches.
    /// </summary>
    private async Task<ToolchainFetch> EnsureManifestAsync(ToolchainPath path)
    {
        var held = await ReadDocumentOrNullAsync(path.DocumentKey, _stopping);
        if (held is { } h && (!path.Moving || !IsStale(h.Document)))
        {
            return ToolchainFetch.Stored;
        }

        var shaFile = await _upstreams.FetchSmallAsync(path.Path + ".sha256", _stopping);
        if (Unanswered(shaFile, held?.Document, path) is { } failed)
        {
            return failed;
        }

        var published = ChannelManifest.ParseSha256File(shaFile.Body);
        if (published is null)
        {
            return Rejected(path, held?.Document, $"{path.Path}.sha256 is not a sha256 file");
        }

        if (held is { } current && current.Document.PublishedSha256 == published)
        {
            await SaveDocumentAsync(path.DocumentKey, current.Document with { FetchedAt = _time.GetUtcNow() }, current.ETag);
            return ToolchainFetch.Stored;
        }

        var manifest = await _upstreams.FetchSmallAsync(path.Path, _stopping);
        if (Unanswered(manifest, held?.Document, path) is { } missing)
        {
            return missing;
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(manifest.Body!));
        if (actual != published)
        {
            return Rejected(path, held?.Document, $"{path.Path} has sha256 {actual}, but its .sha256 says {published}: not stored");
        }

        if (ChannelManifest.TryParse(manifest.Body, _options.MaxManifestBytes, out var problem) is not { } parsed)
        {
            return Rejected(path, held?.Document, $"{path.Path} is not a channel manifest: {problem}");
        }

        var signature = await _upstreams.FetchSmallAsync(path.Path + ".asc", _stopping);
        var document = new ToolchainDocument(
            _time.GetUtcNow(), manifest.Upstream, manifest.Body!, shaFile.Body, signature.Status == IndexFetchStatus.Modified ? signature.Body : null);
        await SaveDocumentAsync(path.DocumentKey, document, held?.ETag);
        Learn(parsed);
        LogManifestStored(_logger, path.Path, published, parsed.Archives.Count);
        return ToolchainFetch.Fetched;
    }

    /// <summary><c>release-stable.toml</c>: no checksum is published, so it is kept as upstream sends it and revalidated after the TTL.</summary>
    private async Task<ToolchainFetch> EnsureReleaseAsync(ToolchainPath path)
    {
        var held = await ReadDocumentOrNullAsync(path.DocumentKey, _stopping);
        if (held is { } h && !IsStale(h.Document))
        {
            return ToolchainFetch.Stored;
        }

        var fetched = await _upstreams.FetchSmallAsync(path.Path, _stopping);
        if (Unanswered(fetched, held?.Document, path) is { } failed)
        {
            return failed;
        }

        if (fetched.Body!.Length > _options.MaxManifestBytes)
        {
            return Rejected(path, held?.Document, $"{path.Path} is larger than {_options.MaxManifestBytes} bytes");
        }

        await SaveDocumentAsync(path.DocumentKey, new ToolchainDocument(_time.GetUtcNow(), fetched.Upstream, fetched.Body, null, null), held?.ETag);
        return ToolchainFetch.Fetched;
    }

    /// <summary>
    /// A rustup binary: its <c>.sha256</c> first, then (unless the blob with that hash is held) its bytes, stored by
    /// hash only if they match; the record naming the hash is what moves.
    /// </summary>
    private async Task<ToolchainFetch> EnsureRustupBinaryAsync(ToolchainPath path)
    {
        var held = await ReadDocumentOrNullAsync(path.DocumentKey, _stopping);
        if (held is { } h && (!path.Moving || !IsStale(h.Document)))
        {
            return ToolchainFetch.Stored;
        }

        var shaFile = await _upstreams.FetchSmallAsync(path.Path + ".sha256", _stopping);
        if (Unanswered(shaFile, held?.Document, path) is { } failed)
        {
            return failed;
        }

        if (ChannelManifest.ParseSha256File(shaFile.Body) is not { } published)
        {
            return Rejected(path, held?.Document, $"{path.Path}.sha256 is not a sha256 file");
        }

        var blobKey = ToolchainPath.BlobKey(published);
        var fromUpstream = false;
        if (await _store.GetPropertiesOrNullAsync(blobKey, _stopping) is null)
        {
            var downloaded = await DownloadVerifiedAsync(path.Path, blobKey, published);
            if (downloaded.Status != ToolchainFetchStatus.Stored)
            {
                return held is null ? downloaded : downloaded with { Status = ToolchainFetchStatus.Stale };
            }

            fromUpstream = true;
        }

        await SaveDocumentAsync(path.DocumentKey, new ToolchainDocument(_time.GetUtcNow(), shaFile.Upstream, [], shaFile.Body, null), held?.ETag);
        return fromUpstream ? ToolchainFetch.Fetched : ToolchainFetch.Stored;
    }

    /// <summary>A component archive: fetched once, streamed to storage while hashed, kept only if a held manifest publishes its sha256.</summary>
    private async Task<ToolchainFetch> EnsureArchiveAsync(ToolchainPath path)
    {
        if (await _store.GetPropertiesOrNullAsync(path.FileKey, _stopping) is not null)
        {
            return ToolchainFetch.Stored;
        }

        if (await FindPublishedHashAsync(path) is not { } published)
        {
            return new ToolchainFetch(ToolchainFetchStatus.NotFound, $"{path.Path} is not listed in any channel manifest this mirror holds (fetch the manifest first)");
        }

        return await DownloadVerifiedAsync(path.Path, path.FileKey, published);
    }

    private async Task<ToolchainFetch> DownloadVerifiedAsync(string path, string key, string sha256)
    {
        Interlocked.Increment(ref _upstreamArchiveFetches);
        var outcome = await _upstreams.DownloadAsync(path, async (download, upstream) =>
        {
            var received = await VerifiedReceiver.ReceiveAsync(_store, key, download, sha256, _options.MaxArchiveBytes, "Toolchains:MaxArchiveBytes", _spools, _stopping);
            switch (received.Status)
            {
                case ReceiveStatus.Stored:
                    LogArchiveStored(_logger, path, received.Received, upstream);
                    return ToolchainFetch.Fetched;
                case ReceiveStatus.BrokenTransfer:
                    return ToolchainFetch.Unavailable($"{upstream}: {path}: {received.Detail}");
                case ReceiveStatus.StorageFailed:
                    return new ToolchainFetch(ToolchainFetchStatus.StorageUnavailable, $"{path} cannot be stored: {received.Detail}", TimeSpan.FromSeconds(30));
                default:
                    LogRejected(_logger, path, received.Detail ?? "bad file");
                    return ToolchainFetch.BadUpstream($"{upstream} sent a bad file for {path}: {received.Detail}");
            }
        }, _stopping);
        return outcome;
    }

    /// <summary>A <c>.sha256</c>/<c>.asc</c> beside an archive: small, immutable, passed through.</summary>
    private async Task<ToolchainFetch> EnsureSidecarAsync(ToolchainPath path)
    {
        if (await _store.GetPropertiesOrNullAsync(path.FileKey, _stopping) is not null)
        {
            return ToolchainFetch.Stored;
        }

        var fetched = await _upstreams.FetchSmallAsync(path.Path, _stopping);
        if (Unanswered(fetched, null, path) is { } failed)
        {
            return failed;
        }

        await _store.PutAsync(path.FileKey, fetched.Body!, WriteCondition.IfNotExists, _stopping);
        return ToolchainFetch.Fetched;
    }

    /// <summary>
    /// The sha256 a held manifest publishes for an archive path: from this node's memory of manifests it has read, else
    /// from the stored manifests (top-level ones and those under the archive's date), read once per stored version.
    /// </summary>
    internal async Task<string?> FindPublishedHashAsync(ToolchainPath archive)
    {
        if (_publishedHashes.TryGetValue(archive.Path, out var known))
        {
            return known;
        }

        await foreach (var stored in _store.ListAsync(DocsPrefix, _stopping))
        {
            var relative = stored.Key[DocsPrefix.Length..];
            var slash = relative.IndexOf('/', StringComparison.Ordinal);
            var dated = slash >= 0;
            if (!relative.EndsWith(".toml", StringComparison.Ordinal) ||
                (dated && archive.Date is not null && !relative.StartsWith(archive.Date + "/", StringComparison.Ordinal)) ||
                _readManifests.TryGetValue(stored.Key, out var etag) && etag == stored.ETag)
            {
                continue;
            }

            if (await ReadDocumentOrNullAsync(stored.Key, _stopping) is { } document &&
                ChannelManifest.TryParse(document.Document.Body, _options.MaxManifestBytes, out _) is { } manifest)
            {
                Learn(manifest);
                _readManifests[stored.Key] = document.ETag;
            }

            if (_publishedHashes.TryGetValue(archive.Path, out known))
            {
                return known;
            }
        }

        return null;
    }

    private void Learn(ChannelManifest manifest)
    {
        foreach (var archive in manifest.Archives)
        {
            _publishedHashes[archive.Path] = archive.Sha256;
        }
    }

    /// <summary>Stores a record, replacing only the one read (create-only when none was); a newer record another writer stored wins.</summary>
    private async Task SaveDocumentAsync(string key, ToolchainDocument document, string? readETag)
    {
        var condition = readETag is null ? WriteCondition.IfNotExists : WriteCondition.IfMatch(readETag);
        var put = await _store.PutAsync(key, document.Serialize(), condition, _stopping);
        if (!put.Succeeded)
        {
            LogWriteConflict(_logger, key);
        }
    }

    /// <summary>Null when upstream answered with a body; otherwise what to report (stale when a copy is held).</summary>
    private ToolchainFetch? Unanswered(IndexFetchResult result, ToolchainDocument? held, ToolchainPath path)
    {
        switch (result.Status)
        {
            case IndexFetchStatus.Modified when result.Body is not null:
                return null;
            case IndexFetchStatus.NotFound when held is null:
                return new ToolchainFetch(ToolchainFetchStatus.NotFound, $"{path.Path} does not exist upstream");
            default:
                var error = result.Error ?? $"{path.Path}: upstream answered {result.Status}";
                LogRevalidationFailed(_logger, path.Path, error, held is not null);
                return held is null ? ToolchainFetch.Unavailable(error, result.RetryAfter) : new ToolchainFetch(ToolchainFetchStatus.Stale, error);
        }
    }

    private ToolchainFetch Rejected(ToolchainPath path, ToolchainDocument? held, string error)
    {
        LogRejected(_logger, path.Path, error);
        return held is null ? ToolchainFetch.BadUpstream(error) : new ToolchainFetch(ToolchainFetchStatus.Stale, error);
    }
}

/// <summary>Without a cluster (the CLI), this process owns every toolchain file: one flight per file.</summary>
internal sealed class LocalToolchainOwners(ToolchainMirror mirror) : IToolchainOwners
{
    private readonly SingleFlight<string, ToolchainFetch> _flights = new();

    public Task<ToolchainFetch> EnsureAsync(string ownerPath, CancellationToken cancellationToken) =>
        Flight(ownerPath).WaitAsync(cancellationToken);

    public Task<SpoolLocation?> LocateDownloadAsync(string ownerPath, CancellationToken cancellationToken) =>
        mirror.LocateDownloadAsOwnerAsync(ownerPath, Flight(ownerPath), cancellationToken);

    private Task<ToolchainFetch> Flight(string ownerPath) => _flights.Join(ownerPath, () => mirror.EnsureAsOwnerAsync(ownerPath)).Task;
}
