using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror.Coordination;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Storage;

namespace OrleansCrates.Toolchains;

/// <summary>
/// The rustup toolchain mirror on this node, in two halves like the crates'. The node's half
/// (<see cref="OpenAsync(ToolchainPath, string?, CancellationToken)"/>) serves what storage holds — immutable files as
/// they are, moving ones (top-level manifests, <c>release-stable.toml</c>, <c>rustup-init</c>) while younger than
/// <c>Toolchains:ManifestTtl</c>, then the held copy while one revalidation at a time runs (a failed one is not retried
/// for <c>Toolchains:FailureBackoff</c>) — and hands everything else to the file's owner (<see cref="IToolchainOwners"/>:
/// one grain per file for the cluster); a cold archive streams to the request as it arrives, from this node's spool or
/// relayed from the downloading node's. The owner's half (<see cref="EnsureAsOwnerAsync"/>) fetches from the dist
/// servers and stores only what verifies: a manifest with a matching <c>.sha256</c> and its <c>.asc</c>, all from one
/// dist server (as one record, also kept under the manifest's date), an archive whose sha256 a held manifest publishes,
/// its sidecars when they agree, a rustup binary matching its <c>.sha256</c>. When upstream is down, whatever was stored
/// is served, moving files with their age.
/// </summary>
public sealed partial class ToolchainMirror : IDisposable
{
    private const string FailurePrefix = "failed:";
    private const string PairPrefix = "pair:";
    private const string ArchivePrefix = "archive:";

    private readonly IObjectStore _store;
    private readonly ToolchainUpstreams _upstreams;
    private readonly ToolchainRecords _records;
    private readonly ToolchainOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ToolchainMirror> _logger;
    private readonly CancellationToken _stopping;
    private readonly InFlightSpools? _spools;
    private readonly IToolchainOwners _owners;
    private readonly SingleFlight<string, ToolchainFetch> _revalidations = new();

    // Small entries, one unit each: failed revalidations, the generation each client was last given, archive listings.
    private readonly MemoryCache _memory = new(new MemoryCacheOptions { SizeLimit = 100_000 });
    private long _upstreamArchiveFetches;

    public ToolchainMirror(
        IObjectStore store,
        ToolchainUpstreams upstreams,
        ToolchainRecords records,
        IOptions<ToolchainOptions> options,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        ILogger<ToolchainMirror> logger,
        InFlightSpools? spools = null,
        IToolchainOwners? owners = null)
    {
        _store = store;
        _upstreams = upstreams;
        _records = records;
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

    /// <summary>Opens a toolchain file for one request of an unknown client. Dispose the result.</summary>
    public Task<ToolchainResponse> OpenAsync(ToolchainPath path, CancellationToken cancellationToken) => OpenAsync(path, null, cancellationToken);

    /// <summary>
    /// Opens a toolchain file for one request of <paramref name="client"/> (its address and user agent: within
    /// <c>Toolchains:PairGraceWindow</c> of its <c>.sha256</c> a client gets the manifest of the same generation). Dispose the result.
    /// </summary>
    public async Task<ToolchainResponse> OpenAsync(ToolchainPath path, string? client, CancellationToken cancellationToken)
    {
        if (path.Channel is { } channel && !_options.Allows(channel, path.Date) && !await IsKeptCopyOfAllowedAsync(path, cancellationToken))
        {
            return new ToolchainResponse(ToolchainServeStatus.Refused, $"toolchain '{channel}{(path.Date is null ? "" : "-" + path.Date)}' is not allowed by this mirror's policy (Toolchains:AllowedChannels)");
        }

        if (_options.HasPolicy && path.ArchivePath is { } archive)
        {
            var listing = await ListingOfAsync(archive, path.Date, cancellationToken);
            if (!listing.Allowed)
            {
                return listing.Listed
                    ? new ToolchainResponse(ToolchainServeStatus.Refused, $"{archive} is listed only in manifests of toolchains this mirror's policy does not allow (Toolchains:AllowedChannels)")
                    : new ToolchainResponse(ToolchainServeStatus.NotFound, $"{archive} is not listed in any channel manifest this mirror holds (fetch the manifest first)");
            }
        }

        return path.IsDocument ? await OpenDocumentAsync(path, client, cancellationToken) : await OpenFileAsync(path, cancellationToken);
    }

    public void Dispose() => _memory.Dispose();

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

    private async Task<ToolchainResponse> OpenDocumentAsync(ToolchainPath path, string? client, CancellationToken cancellationToken)
    {
        var record = await _records.ReadOrNullAsync(path.DocumentKey, cancellationToken);
        var fromUpstream = false;
        string? staleReason = null;
        if (record is null)
        {
            var fetched = await _owners.EnsureAsync(path.OwnerPath, cancellationToken);
            record = await _records.ReadOrNullAsync(path.DocumentKey, cancellationToken);
            if (record is null)
            {
                return ToolchainResponse.From(fetched, path.Path);
            }

            fromUpstream = fetched.FromUpstream;
            staleReason = fetched.Status == ToolchainFetchStatus.Stored ? null : fetched.Error ?? "upstream unavailable";
        }
        else if (path.Moving && IsStale(record.Document))
        {
            (record, staleReason, fromUpstream) = await RevalidateOrHeldAsync(path, record, cancellationToken);
        }

        var age = _time.GetUtcNow() - record.Document.FetchedAt;
        var served = client is not null && path.Moving && path.Channel is not null ? await SameGenerationAsync(path, client, record, cancellationToken) : record;
        var response = await PartAsync(path, served, cancellationToken);
        return response with
        {
            Age = path.Moving ? (age < TimeSpan.Zero ? TimeSpan.Zero : age) : null,
            Stale = staleReason is not null,
            Error = response.Error ?? staleReason,
            FromUpstream = fromUpstream,
        };
    }

    /// <summary>
    /// A moving file past its TTL: one revalidation at a time on this node (through the file's owner, one for the
    /// cluster). The request that starts it waits for it up to <c>Toolchains:RevalidationWait</c>; others, and every
    /// request within <c>Toolchains:FailureBackoff</c> of a failed one, get the held copy at once (stale, with its age).
    /// </summary>
    private async Task<(StoredRecord Record, string? StaleReason, bool FromUpstream)> RevalidateOrHeldAsync(ToolchainPath path, StoredRecord held, CancellationToken cancellationToken)
    {
        if (RecentFailure(path.OwnerPath) is { } failure)
        {
            return (held, failure, false);
        }

        var (flight, started) = _revalidations.Join(path.OwnerPath, () => RevalidateAsync(path.OwnerPath));
        ToolchainFetch? outcome = null;
        if (flight.IsCompleted)
        {
            outcome = await flight;
        }
        else if (started && _options.RevalidationWait > TimeSpan.Zero)
        {
            try
            {
                outcome = await flight.WaitAsync(_options.RevalidationWait, _time, cancellationToken);
            }
            catch (TimeoutException)
            {
                // Still revalidating: the held copy now, the new one (if any) to later requests.
            }
        }

        if (outcome is null)
        {
            return (held, "revalidating upstream; serving the held copy meanwhile", false);
        }

        if (outcome.Status != ToolchainFetchStatus.Stored)
        {
            return (held, outcome.Error ?? "upstream unavailable", false);
        }

        return (await _records.ReadOrNullAsync(path.DocumentKey, cancellationToken) ?? held, null, outcome.FromUpstream);
    }

    private async Task<ToolchainFetch> RevalidateAsync(string ownerPath)
    {
        ToolchainFetch fetch;
        try
        {
            fetch = await _owners.EnsureAsync(ownerPath, _stopping);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            fetch = ToolchainFetch.Unavailable($"{ownerPath}: revalidation failed: {e.Message}");
        }

        if (fetch.Status != ToolchainFetchStatus.Stored)
        {
            RememberFailure(ownerPath, fetch.Error ?? fetch.Status.ToString());
        }

        return fetch;
    }

    /// <summary>
    /// The generation of a top-level manifest to give <paramref name="client"/>: its <c>.sha256</c> is remembered for
    /// <c>Toolchains:PairGraceWindow</c>; its manifest (and <c>.asc</c>) in that window is of the same generation, from the
    /// copy kept under that generation's date, even if the channel moved in between.
    /// </summary>
    private async Task<StoredRecord> SameGenerationAsync(ToolchainPath path, string client, StoredRecord current, CancellationToken cancellationToken)
    {
        if (_options.PairGraceWindow <= TimeSpan.Zero || path.Kind is not (ToolchainFileKind.Manifest or ToolchainFileKind.ManifestSha256 or ToolchainFileKind.ManifestSignature))
        {
            return current;
        }

        var key = PairPrefix + path.OwnerPath + "|" + client;
        var sha = current.Document.PublishedSha256;
        if (path.Kind == ToolchainFileKind.ManifestSha256)
        {
            if (sha is not null && await DateOfAsync(path.DocumentKey, current, cancellationToken) is { } date)
            {
                _memory.Set(key, new Generation(sha, date, _time.GetUtcNow() + _options.PairGraceWindow), Entry(_options.PairGraceWindow));
            }

            return current;
        }

        if (!_memory.TryGetValue(key, out Generation? given) || given is null || given.Sha256 == sha || given.Until <= _time.GetUtcNow())
        {
            return current;
        }

        var earlier = await _records.ReadOrNullAsync(ToolchainPath.DatedManifestKey(path.Channel!, given.Date), cancellationToken);
        if (earlier?.Document.PublishedSha256 != given.Sha256)
        {
            return current;
        }

        LogEarlierGenerationServed(_logger, path.Path, given.Sha256, sha ?? "none");
        return earlier;
    }

    /// <summary>A manifest record's date: from its header, else (records stored before dates were kept) read from the manifest once per version.</summary>
    private async Task<string?> DateOfAsync(string key, StoredRecord record, CancellationToken cancellationToken)
    {
        var date = record.Document.Date ?? (await _records.ListingOrNullAsync(key, record.ETag, cancellationToken))?.Date;
        return ToolchainPath.IsDate(date) ? date : null;
    }

    /// <summary>The part of a stored record a path names (a manifest's body, its .sha256 or .asc; a binary's content), without copying it.</summary>
    private async Task<ToolchainResponse> PartAsync(ToolchainPath path, StoredRecord record, CancellationToken cancellationToken)
    {
        var doc = record.Document;
        if (path.Kind == ToolchainFileKind.RustupBinary)
        {
            return doc.PublishedSha256 is { } sha && await OpenStoredOrNullAsync(ToolchainPath.BlobKey(sha), cancellationToken) is { } blob
                ? blob
                : new ToolchainResponse(ToolchainServeStatus.Unavailable, "the stored binary vanished", TimeSpan.FromSeconds(1));
        }

        ReadOnlyMemory<byte>? part = path.Kind switch
        {
            ToolchainFileKind.Manifest or ToolchainFileKind.RustupRelease => doc.Body,
            ToolchainFileKind.ManifestSha256 or ToolchainFileKind.RustupBinarySha256 => doc.Sha256File,
            ToolchainFileKind.ManifestSignature => doc.Signature,
            _ => null,
        };
        if (part is not { } bytes)
        {
            return new ToolchainResponse(ToolchainServeStatus.NotFound, $"upstream has no {path.Path}");
        }

        var content = MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);
        // One ETag per part (a record holds several): the manifest's own sha256, else the record's version and the part.
        var etag = path.Kind == ToolchainFileKind.Manifest && doc.PublishedSha256 is { } published
            ? $"\"{published}\""
            : $"\"{record.ETag.Replace("W/", "", StringComparison.Ordinal).Trim('"')}-{path.Kind.ToString().ToLowerInvariant()}\"";
        return new ToolchainResponse(ToolchainServeStatus.Found) { Content = content, Length = bytes.Length, ETag = etag };
    }

    private bool IsStale(ToolchainDocument doc) => _time.GetUtcNow() - doc.FetchedAt >= _options.ManifestTtl;

    private async Task<ToolchainResponse?> OpenStoredOrNullAsync(string key, CancellationToken cancellationToken)
    {
        var stored = await _store.OpenReadOrNullAsync(key, cancellationToken);
        return stored is null
            ? null
            : new ToolchainResponse(ToolchainServeStatus.Found) { Content = stored.Content, Length = stored.Length, ETag = stored.ETag };
    }

    /// <summary>A dated manifest the policy does not name, held as this mirror's copy of a top-level manifest it does allow.</summary>
    private async Task<bool> IsKeptCopyOfAllowedAsync(ToolchainPath path, CancellationToken cancellationToken) =>
        path.Date is not null && path.Channel is { } channel && _options.Allows(channel, null) &&
        (await _records.ReadOrNullAsync(path.DocumentKey, cancellationToken))?.Document.KeptFrom is not null;

    /// <summary>How held manifests list an archive; a listing by an allowed manifest is remembered briefly (manifests never stop listing an archive).</summary>
    private async Task<ArchiveListing> ListingOfAsync(string archive, string? date, CancellationToken cancellationToken)
    {
        if (_memory.TryGetValue(ArchivePrefix + archive, out ArchiveListing? known) && known is not null)
        {
            return known;
        }

        var listing = await _records.FindArchiveAsync(archive, date, cancellationToken);
        if (listing.Allowed)
        {
            _memory.Set(ArchivePrefix + archive, listing, Entry(TimeSpan.FromMinutes(1)));
        }

        return listing;
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
    /// <c>.sha256</c> (unchanged: only the time is renewed). A new body is fetched from the dist server that gave the
    /// <c>.sha256</c>, with its <c>.asc</c>, and stored as one record only if its sha256 matches (a mismatch — upstream
    /// publishing in between — fetches the pair once more). A top-level manifest is also kept under its date, and the one
    /// it replaces too, so every archive a stored manifest ever listed stays verifiable.
    /// </summary>
    private async Task<ToolchainFetch> EnsureManifestAsync(ToolchainPath path)
    {
        var held = await _records.ReadOrNullAsync(path.DocumentKey, _stopping);
        if (held is not null && (!path.Moving || !IsStale(held.Document)))
        {
            return ToolchainFetch.Stored;
        }

        if (held is not null && RecentFailure(path.OwnerPath) is { } failure)
        {
            return new ToolchainFetch(ToolchainFetchStatus.Stale, failure);
        }

        for (var attempt = 1; ; attempt++)
        {
            var shaFile = await _upstreams.FetchSmallAsync(path.Path + ".sha256", ToolchainOptions.MaxSidecarBytes, null, _stopping);
            if (Unanswered(shaFile, held, path) is { } failed)
            {
                return failed;
            }

            if (ChannelManifest.ParseSha256File(shaFile.Body) is not { } published)
            {
                return Rejected(path, held, $"{path.Path}.sha256 from {shaFile.Upstream} is not a sha256 file");
            }

            if (held is not null && held.Document.PublishedSha256 == published)
            {
                await SaveDocumentAsync(path.DocumentKey, held.Document with { FetchedAt = _time.GetUtcNow() }, held.ETag);
                ForgetFailure(path.OwnerPath);
                return ToolchainFetch.Stored;
            }

            var manifest = await _upstreams.FetchSmallAsync(path.Path, _options.MaxManifestBytes, shaFile.Upstream, _stopping);
            if (manifest.Status == SmallFetchStatus.NotFound)
            {
                // It published the checksum but not the file: a publish in progress, never "not found".
                manifest = manifest with { Status = SmallFetchStatus.Failed, Error = $"{shaFile.Upstream} has {path.Path}.sha256 but not {path.Path}" };
            }

            if (Unanswered(manifest, held, path) is { } missing)
            {
                return missing;
            }

            var actual = Convert.ToHexStringLower(SHA256.HashData(manifest.Body!));
            if (actual != published)
            {
                if (attempt == 1)
                {
                    LogPairRefetched(_logger, path.Path, actual, published, shaFile.Upstream ?? "?");
                    continue;
                }

                return Rejected(path, held, $"{path.Path} has sha256 {actual}, but its .sha256 says {published} (twice): not stored");
            }

            if (ChannelManifest.TryParse(manifest.Body, _options.MaxManifestBytes, out var problem) is not { } parsed)
            {
                return Rejected(path, held, $"{path.Path} is not a channel manifest: {problem}");
            }

            // Only a real 404 means "no signature"; a failure to ask is a failure of this fetch (retried later).
            var signature = await _upstreams.FetchSmallAsync(path.Path + ".asc", ToolchainOptions.MaxSidecarBytes, shaFile.Upstream, _stopping);
            if (signature.Status == SmallFetchStatus.Failed && Unanswered(signature, held, path) is { } unsigned)
            {
                return unsigned;
            }

            if (signature.Status == SmallFetchStatus.Ok && !ChannelManifest.IsArmouredSignature(signature.Body))
            {
                return Rejected(path, held, $"{path.Path}.asc from {signature.Upstream} is not an ASCII-armoured signature");
            }

            ReadOnlyMemory<byte>? signed = signature.Status == SmallFetchStatus.Ok && signature.Body is { } asc ? new ReadOnlyMemory<byte>(asc) : (ReadOnlyMemory<byte>?)null;
            var document = new ToolchainDocument(_time.GetUtcNow(), manifest.Upstream, manifest.Body!, shaFile.Body!, signed)
            {
                Date = ToolchainPath.IsDate(parsed.Date) ? parsed.Date : null,
            };
            if (held is not null && path.Moving)
            {
                await KeepDatedAsync(path, held.Document with { Date = await DateOfAsync(path.DocumentKey, held, _stopping) });
            }

            await SaveDocumentAsync(path.DocumentKey, document, held?.ETag);
            await KeepDatedAsync(path, document);
            ForgetFailure(path.OwnerPath);
            LogManifestStored(_logger, path.Path, published, parsed.Archives.Count);
            return ToolchainFetch.Fetched;
        }
    }

    /// <summary>
    /// Keeps a top-level manifest's record also under its date (<c>dist/DATE/channel-rust-C.toml</c>, where upstream
    /// publishes the same bytes), create-only: the archives it lists stay verifiable after the channel moves on.
    /// </summary>
    private async Task KeepDatedAsync(ToolchainPath path, ToolchainDocument document)
    {
        if (!path.Moving || path.Channel is not { } channel || !ToolchainPath.IsDate(document.Date))
        {
            return;
        }

        var key = ToolchainPath.DatedManifestKey(channel, document.Date!);
        await _store.PutAsync(key, (document with { KeptFrom = path.Path }).Serialize(), WriteCondition.IfNotExists, _stopping);
    }

    /// <summary><c>release-stable.toml</c>: no checksum is published, so it is kept as upstream sends it and revalidated after the TTL.</summary>
    private async Task<ToolchainFetch> EnsureReleaseAsync(ToolchainPath path)
    {
        var held = await _records.ReadOrNullAsync(path.DocumentKey, _stopping);
        if (held is not null && !IsStale(held.Document))
        {
            return ToolchainFetch.Stored;
        }

        if (held is not null && RecentFailure(path.OwnerPath) is { } failure)
        {
            return new ToolchainFetch(ToolchainFetchStatus.Stale, failure);
        }

        var fetched = await _upstreams.FetchSmallAsync(path.Path, _options.MaxManifestBytes, null, _stopping);
        if (Unanswered(fetched, held, path) is { } failed)
        {
            return failed;
        }

        await SaveDocumentAsync(path.DocumentKey, new ToolchainDocument(_time.GetUtcNow(), fetched.Upstream, fetched.Body!, null, null), held?.ETag);
        ForgetFailure(path.OwnerPath);
        return ToolchainFetch.Fetched;
    }

    /// <summary>
    /// A rustup binary: its <c>.sha256</c> first, then (unless the blob with that hash is held) its bytes, stored by
    /// hash only if they match; the record naming the hash is what moves.
    /// </summary>
    private async Task<ToolchainFetch> EnsureRustupBinaryAsync(ToolchainPath path)
    {
        var held = await _records.ReadOrNullAsync(path.DocumentKey, _stopping);
        if (held is not null && (!path.Moving || !IsStale(held.Document)))
        {
            return ToolchainFetch.Stored;
        }

        if (held is not null && RecentFailure(path.OwnerPath) is { } failure)
        {
            return new ToolchainFetch(ToolchainFetchStatus.Stale, failure);
        }

        var shaFile = await _upstreams.FetchSmallAsync(path.Path + ".sha256", ToolchainOptions.MaxSidecarBytes, null, _stopping);
        if (Unanswered(shaFile, held, path) is { } failed)
        {
            return failed;
        }

        if (ChannelManifest.ParseSha256File(shaFile.Body) is not { } published)
        {
            return Rejected(path, held, $"{path.Path}.sha256 is not a sha256 file");
        }

        var blobKey = ToolchainPath.BlobKey(published);
        var fromUpstream = false;
        if (await _store.GetPropertiesOrNullAsync(blobKey, _stopping) is null)
        {
            var downloaded = await DownloadVerifiedAsync(path.Path, blobKey, published);
            if (downloaded.Status != ToolchainFetchStatus.Stored)
            {
                if (held is not null)
                {
                    RememberFailure(path.OwnerPath, downloaded.Error ?? downloaded.Status.ToString());
                }

                return held is null ? downloaded : downloaded with { Status = ToolchainFetchStatus.Stale };
            }

            fromUpstream = true;
        }

        await SaveDocumentAsync(path.DocumentKey, new ToolchainDocument(_time.GetUtcNow(), shaFile.Upstream, ReadOnlyMemory<byte>.Empty, shaFile.Body!, null), held?.ETag);
        ForgetFailure(path.OwnerPath);
        return fromUpstream ? ToolchainFetch.Fetched : ToolchainFetch.Stored;
    }

    /// <summary>A component archive: fetched once, streamed to storage while hashed, kept only if a held (allowed) manifest publishes its sha256.</summary>
    private async Task<ToolchainFetch> EnsureArchiveAsync(ToolchainPath path)
    {
        if (await _store.GetPropertiesOrNullAsync(path.FileKey, _stopping) is not null)
        {
            return ToolchainFetch.Stored;
        }

        var listing = await _records.FindArchiveAsync(path.Path, path.Date, _stopping);
        if (!listing.Allowed)
        {
            return new ToolchainFetch(ToolchainFetchStatus.NotFound, listing.Listed
                ? $"{path.Path} is listed only in manifests of toolchains this mirror's policy does not allow"
                : $"{path.Path} is not listed in any channel manifest this mirror holds (fetch the manifest first)");
        }

        return await DownloadVerifiedAsync(path.Path, path.FileKey, listing.Sha256!);
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

    /// <summary>
    /// A <c>.sha256</c>/<c>.asc</c> beside an archive a held (allowed) manifest lists: at most 64 KiB, and kept only if
    /// it is what it says — a <c>.sha256</c> naming the archive with the hash the manifest publishes, an armoured signature.
    /// </summary>
    private async Task<ToolchainFetch> EnsureSidecarAsync(ToolchainPath path)
    {
        if (await _store.GetPropertiesOrNullAsync(path.FileKey, _stopping) is not null)
        {
            return ToolchainFetch.Stored;
        }

        var archive = path.SidecarOf!;
        var listing = await _records.FindArchiveAsync(archive, path.Date, _stopping);
        if (!listing.Allowed)
        {
            return new ToolchainFetch(ToolchainFetchStatus.NotFound, $"{archive} is not listed in any channel manifest this mirror holds (or allows), so {path.Path} is not fetched");
        }

        var fetched = await _upstreams.FetchSmallAsync(path.Path, ToolchainOptions.MaxSidecarBytes, null, _stopping);
        if (Unanswered(fetched, null, path) is { } failed)
        {
            return failed;
        }

        var name = archive[(archive.LastIndexOf('/') + 1)..];
        string? problem;
        if (path.Path.EndsWith(".sha256", StringComparison.Ordinal))
        {
            var sha = ChannelManifest.ParseSidecarSha256(fetched.Body, name);
            problem = sha is null ? $"not a sha256 file for {name}" : sha != listing.Sha256 ? $"it says {sha}, but the manifest publishes {listing.Sha256}" : null;
        }
        else
        {
            problem = ChannelManifest.IsArmouredSignature(fetched.Body) ? null : "not an ASCII-armoured signature";
        }

        if (problem is not null)
        {
            LogRejected(_logger, path.Path, problem);
            return ToolchainFetch.BadUpstream($"{fetched.Upstream} sent a bad {path.Path}: {problem}");
        }

        await _store.PutAsync(path.FileKey, fetched.Body!, WriteCondition.IfNotExists, _stopping);
        return ToolchainFetch.Fetched;
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

    /// <summary>Null when upstream answered with a body; otherwise what to report (stale when a copy is held, and then not asked again for the back-off).</summary>
    private ToolchainFetch? Unanswered(SmallFetch result, StoredRecord? held, ToolchainPath path)
    {
        switch (result.Status)
        {
            case SmallFetchStatus.Ok when result.Body is not null:
                return null;
            case SmallFetchStatus.NotFound when held is null:
                return new ToolchainFetch(ToolchainFetchStatus.NotFound, $"{path.Path} does not exist upstream");
            default:
                var error = result.Error ?? $"{path.Path}: upstream answered {result.Status}";
                LogRevalidationFailed(_logger, path.Path, error, held is not null);
                if (held is null)
                {
                    return ToolchainFetch.Unavailable(error, result.RetryAfter);
                }

                RememberFailure(path.OwnerPath, error);
                return new ToolchainFetch(ToolchainFetchStatus.Stale, error);
        }
    }

    private ToolchainFetch Rejected(ToolchainPath path, StoredRecord? held, string error)
    {
        LogRejected(_logger, path.Path, error);
        if (held is null)
        {
            return ToolchainFetch.BadUpstream(error);
        }

        RememberFailure(path.OwnerPath, error);
        return new ToolchainFetch(ToolchainFetchStatus.Stale, error);
    }

    private string? RecentFailure(string ownerPath) =>
        _memory.TryGetValue(FailurePrefix + ownerPath, out Failure? failure) && failure is not null && failure.Until > _time.GetUtcNow() ? failure.Error : null;

    private void RememberFailure(string ownerPath, string error)
    {
        if (_options.FailureBackoff > TimeSpan.Zero)
        {
            _memory.Set(FailurePrefix + ownerPath, new Failure(error, _time.GetUtcNow() + _options.FailureBackoff), Entry(_options.FailureBackoff));
        }
    }

    private void ForgetFailure(string ownerPath) => _memory.Remove(FailurePrefix + ownerPath);

    private static MemoryCacheEntryOptions Entry(TimeSpan lifetime) => new() { Size = 1, AbsoluteExpirationRelativeToNow = lifetime };

    private sealed record Failure(string Error, DateTimeOffset Until);

    private sealed record Generation(string Sha256, string Date, DateTimeOffset Until);
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
