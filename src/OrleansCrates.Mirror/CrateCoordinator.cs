using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror.Coordination;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

/// <summary>
/// The mirror's crates on this node, in two halves. The node's half (<see cref="GetIndexAsync(CrateName, CancellationToken)"/>,
/// <see cref="OpenCrateFileAsync"/>) serves fresh index copies and stored files from this node's memory and storage,
/// with single-flight so concurrent local callers share one storage read, and hands everything else to the crate's
/// owner (<see cref="ICrateOwners"/>: one grain per crate for the whole cluster). The owner's half
/// (<see cref="RefreshIndexAsOwnerAsync"/>, <see cref="EnsureStoredAsOwnerAsync"/>), run by that owner
/// (<see cref="CrateOwner"/>), revalidates upstream, keeps the stored index with ETag-conditional writes and downloads,
/// verifies and stores files create-only. Callers always come with a parsed <see cref="CrateName"/>, so every spelling
/// of a crate meets at one key (its lower-case name). The shared work never runs under a caller's cancellation.
/// </summary>
public sealed partial class CrateCoordinator : IDisposable
{
    private readonly IObjectStore _store;
    private readonly ICrateOwners _owners;
    private readonly UpstreamSet _upstreams;
    private readonly MirrorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CrateCoordinator> _logger;
    private readonly CancellationToken _stopping;
    private readonly CancellationTokenSource _abandon = new();
    private readonly WorkInFlight _work = new();
    private TimeSpan _drainTimeout;
    private readonly MemoryCache _hot;
    private readonly HotFileCache _hotFiles;
    private readonly SingleFlight<string, IndexRefresh> _indexFlights = new(OrleansCratesTracing.Source, OrleansCratesTracing.IndexRefresh);
    private readonly SingleFlight<string, FetchOutcome> _fileFlights = new(OrleansCratesTracing.Source, OrleansCratesTracing.CrateFileFetch);
    private readonly OrleansCratesMetrics _metrics;
    private readonly InFlightSpools? _spools;

    public CrateCoordinator(
        IObjectStore store,
        UpstreamSet upstreams,
        IOptions<MirrorOptions> options,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        ILogger<CrateCoordinator> logger,
        OrleansCratesMetrics? metrics = null,
        ICrateOwners? owners = null,
        InFlightSpools? spools = null)
    {
        _spools = spools;
        _store = store;
        _owners = owners ?? new LocalCrateOwners(this, time);
        _upstreams = upstreams;
        _options = options.Value;
        _time = time;
        _logger = logger;
        // The shared work runs until this node abandons it: at once when the host stops, or after the drain timeout
        // when the host asked to drain (DrainOnStop), so in-flight fetches finish before the silo leaves.
        _stopping = _abandon.Token;
        lifetime.ApplicationStopping.Register(StartDraining);
        _hot = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(1, _options.IndexMemoryCacheBytes), TrackStatistics = true });
        _hotFiles = new HotFileCache(_options.HotFileCacheBytes, _options.HotFileMaxBytes);
        _metrics = metrics ?? OrleansCratesMetrics.Unobserved;
        _metrics.ObserveHotSet(FileKind.Index, IndexHotSetStatistics);
        _metrics.ObserveHotSet(FileKind.Crate, () => _hotFiles.Statistics);
        _metrics.ObserveInFlight(FileKind.Index, () => _indexFlights.InFlightCount);
        _metrics.ObserveInFlight(FileKind.Crate, () => _fileFlights.InFlightCount);
    }

    /// <summary>
    /// This node is shutting down: its shared work is being cancelled, so a failure now says nothing about upstream
    /// (a crate's owner answers "owner unavailable" instead, and the caller asks the crate's next activation).
    /// </summary>
    public bool IsStopping => _stopping.IsCancellationRequested;

    /// <summary>
    /// Upstream fetches (index revalidations and file downloads) this node is running now, with the work that finishes
    /// them after their answers (storing index documents, committing files, reading them into this node's memory).
    /// </summary>
    public int UpstreamWorkInFlight => _work.Count;

    /// <summary>
    /// When the host stops, let this node's in-flight upstream fetches run on for up to <paramref name="timeout"/>
    /// (new ones still start, so callers waiting on them are answered) before they are abandoned. Zero (the default):
    /// abandon them at once.
    /// </summary>
    public void DrainOnStop(TimeSpan timeout) => _drainTimeout = timeout;

    /// <summary>
    /// Completes when no upstream fetch is in flight on this node, or when its work is abandoned (the drain timeout),
    /// or <paramref name="cancellationToken"/> ends the wait. Returns whether everything finished.
    /// </summary>
    public async Task<bool> WhenDrainedAsync(CancellationToken cancellationToken)
    {
        var drained = _work.WhenIdle;
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping);
        try
        {
            await drained.WaitAsync(wait.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return UpstreamWorkInFlight == 0;
        }
    }

    /// <summary>
    /// <see cref="WhenDrainedAsync(CancellationToken)"/> for at most <paramref name="timeout"/>: false when work is still
    /// in flight then (for <c>/health/settled</c>, and for whoever deletes a store once its writes are done).
    /// </summary>
    public async Task<bool> WhenDrainedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(timeout);
        try
        {
            return await WhenDrainedAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private void StartDraining()
    {
        if (_drainTimeout <= TimeSpan.Zero)
        {
            _abandon.Cancel();
        }
        else
        {
            _abandon.CancelAfter(_drainTimeout);
        }
    }

    private async Task<T> TrackUpstreamWorkAsync<T>(Func<Task<T>> work)
    {
        _work.Begin();
        try
        {
            return await work();
        }
        finally
        {
            _work.End();
        }
    }

    /// <summary>
    /// This node's one flight for a crate file (<see cref="EnsureStoredAsync"/>), counted as in-flight work until it is
    /// over and gone, so that once the node is drained a new request starts a new flight rather than joining one whose
    /// outcome is already decided (its file stored and read into memory, or failed).
    /// </summary>
    private (Task<FetchOutcome> Task, bool Started) JoinFileFlight(CrateName name, string version, string key)
    {
        _work.Begin();
        var (flight, started) = _fileFlights.Join(key, () => EnsureStoredAsync(name, version, key));
        if (started)
        {
            _ = flight.ContinueWith(static (_, state) => ((WorkInFlight)state!).End(), _work, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else
        {
            _work.End();
        }

        return (flight, started);
    }

    /// <summary>This node's clock, for the crates' owners.</summary>
    public TimeProvider Time => _time;

    /// <summary>Counts of upstream work actually started on this node (as the owner of the crates), for tests and metrics.</summary>
    public long UpstreamIndexFetches => Interlocked.Read(ref _upstreamIndexFetches);

    public long UpstreamFileFetches => Interlocked.Read(ref _upstreamFileFetches);

    /// <summary>A request for a version missing from a cached index revalidates it, but not more often than this.</summary>
    private static readonly TimeSpan MinRevalidationAge = TimeSpan.FromSeconds(5);

    private long _upstreamIndexFetches;
    private long _upstreamFileFetches;

    /// <summary>
    /// The crate's index file. Fresh copies come from memory; a stale one is revalidated upstream by the first caller
    /// while everyone else is served the cached copy; when upstream fails the last good copy is served, marked stale.
    /// </summary>
    public Task<IndexResult> GetIndexAsync(CrateName name, CancellationToken cancellationToken) =>
        GetIndexAsync(name, countRequest: true, cancellationToken);

    /// <summary>
    /// <see cref="GetIndexAsync(CrateName, CancellationToken)"/> ahead of any client (a dependency prefetch): the same
    /// lookup, flight and memory, not counted as a client's cache result.
    /// </summary>
    public Task<IndexResult> WarmIndexAsync(CrateName name, CancellationToken cancellationToken) =>
        GetIndexAsync(name, countRequest: false, cancellationToken);

    /// <param name="countRequest">Count the outcome in the cache metrics (a client's request, not a download's own index lookup).</param>
    private async Task<IndexResult> GetIndexAsync(CrateName name, bool countRequest, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var cached = _hot.Get<IndexEntry>(name.Lower);
        if (cached is not null && now < cached.NextCheckAt)
        {
            return Counted(ResultOf(cached, now), countRequest);
        }

        var (flight, started) = _indexFlights.Join(name.Lower, () => RefreshIndexAsync(name, cached));
        if (!started)
        {
            _metrics.CoalescedWaiter(FileKind.Index);
        }

        if (!started && cached is { Exists: true })
        {
            return Counted(ResultOf(cached, now), countRequest); // someone else is revalidating: serve what we have meanwhile (stale)
        }

        var refresh = await flight.WaitAsync(cancellationToken);
        if (refresh.Entry is null)
        {
            return Counted(IndexResult.Unavailable(refresh.Error ?? "upstream unavailable", refresh.RetryAfter ?? TimeSpan.FromSeconds(5)), countRequest);
        }

        // This request waited for the cache to be filled: a miss, unless all it got was a stale copy.
        var result = ResultOf(refresh.Entry, _time.GetUtcNow());
        return Counted(result.IsStale ? result : result with { Outcome = CacheOutcome.Miss }, countRequest);
    }

    /// <summary>Counts one index request's cache outcome; one that found nothing to serve (503) is a miss.</summary>
    private IndexResult Counted(IndexResult result, bool countRequest)
    {
        if (countRequest)
        {
            _metrics.CacheResult(FileKind.Index, result.Status == IndexStatus.Unavailable ? CacheOutcome.Miss : result.Outcome);
        }

        return result;
    }

    /// <summary>This node's memory layer for index files: its budget, bytes held and lookups.</summary>
    public HotSetStatistics IndexHotSetStatistics()
    {
        var statistics = _hot.GetCurrentStatistics();
        return new HotSetStatistics(_options.IndexMemoryCacheBytes, statistics?.CurrentEstimatedSize ?? 0, statistics?.TotalHits ?? 0, statistics?.TotalMisses ?? 0);
    }

    /// <summary>This node's memory layer for crate files: its budget, bytes held and lookups.</summary>
    public HotSetStatistics CrateHotSetStatistics() => _hotFiles.Statistics;

    /// <summary>
    /// Makes sure the stored file of one crate version exists, fetching and verifying it from upstream first if this
    /// mirror does not hold it yet, without opening it (for answers that point elsewhere, such as a redirect to storage).
    /// The result carries no file.
    /// </summary>
    public async Task<CrateFileResult> EnsureCrateFileAsync(CrateName name, string version, CancellationToken cancellationToken)
    {
        var key = MirrorKeys.CrateFile(name, version);
        if (_hotFiles.Contains(key))
        {
            _metrics.CacheResult(FileKind.Crate, CacheOutcome.Hit);
            return new CrateFileResult(CrateFileStatus.Found, null, null, null);
        }

        var (flight, started) = JoinFileFlight(name, version, key);
        if (!started)
        {
            _metrics.CoalescedWaiter(FileKind.Crate);
        }

        var outcome = await flight.WaitAsync(cancellationToken);
        var hit = outcome.Status == CrateFileStatus.Found && !outcome.FromUpstream;
        _metrics.CacheResult(FileKind.Crate, hit ? CacheOutcome.Hit : CacheOutcome.Miss);
        return new CrateFileResult(outcome.Status, null, outcome.Error, outcome.RetryAfter) { Outcome = hit ? CacheOutcome.Hit : CacheOutcome.Miss };
    }

    /// <summary>
    /// Opens the stored file of one crate version, fetching and verifying it from upstream first if this mirror does
    /// not hold it yet. Dispose the result.
    /// </summary>
    public async Task<CrateFileResult> OpenCrateFileAsync(CrateName name, string version, CancellationToken cancellationToken)
    {
        var key = MirrorKeys.CrateFile(name, version);
        var hot = _hotFiles.OpenOrNull(key);
        if (hot is not null)
        {
            _metrics.CacheResult(FileKind.Crate, CacheOutcome.Hit);
            return CrateFileResult.Found(hot);
        }

        return await OpenColdCrateFileAsync(name, version, key, cancellationToken);
    }

    /// <summary>
    /// <see cref="OpenCrateFileAsync"/> past the hot layer. A method of its own so that the warm path does not allocate
    /// the closure the shared run captures (a method's captured parameters are boxed on entry, hit or not).
    /// </summary>
    private async Task<CrateFileResult> OpenColdCrateFileAsync(CrateName name, string version, string key, CancellationToken cancellationToken)
    {
        FetchOutcome outcome;
        for (var attempt = 1; ; attempt++)
        {
            // However many local requests miss the hot layer at once, one of them asks storage (and upstream if need be).
            var (flight, started) = JoinFileFlight(name, version, key);
            if (!started)
            {
                _metrics.CoalescedWaiter(FileKind.Crate);
            }

            // A cold file streams to the request as it arrives (cargo checks the sha256 itself, and gives up on a transfer
            // silent for 30 s): from this node's spool when it downloads here, else relayed from the downloading node's
            // spool, which the crate's owner names (only the location travels in the grain message, never the bytes).
            if (_spools is not null && !flight.IsCompleted &&
                await _spools.FollowAsync(key, flight, ct => _owners.LocateDownloadAsync(name, version, ct), cancellationToken) is { } live)
            {
                _metrics.CacheResult(FileKind.Crate, CacheOutcome.Miss);
                return new CrateFileResult(CrateFileStatus.Found, null, null, null) { Outcome = CacheOutcome.Miss, Streaming = live };
            }

            outcome = await flight.WaitAsync(cancellationToken);

            // Bad bytes from a run this request only joined: that transfer began before the request, and may be the
            // broken one its client is retrying after (the run ends a moment after its streamed clients see the
            // break). One fresh run for it; the request that started the failed run has its answer.
            if (outcome.Status != CrateFileStatus.BadUpstreamFile || started || attempt > 1)
            {
                break;
            }
        }

        if (outcome.Status != CrateFileStatus.Found)
        {
            _metrics.CacheResult(FileKind.Crate, CacheOutcome.Miss); // nothing served from the cache
            return new CrateFileResult(outcome.Status, null, outcome.Error, outcome.RetryAfter);
        }

        var stored = _hotFiles.OpenOrNull(key) ?? await _store.OpenReadOrNullAsync(key, cancellationToken);
        _metrics.CacheResult(FileKind.Crate, stored is not null && !outcome.FromUpstream ? CacheOutcome.Hit : CacheOutcome.Miss);
        return stored is null
            ? new CrateFileResult(CrateFileStatus.UpstreamUnavailable, null, "stored file vanished", TimeSpan.FromSeconds(1))
            : CrateFileResult.Found(stored) with { Outcome = outcome.FromUpstream ? CacheOutcome.Miss : CacheOutcome.Hit };
    }

    /// <summary>
    /// Makes sure one crate file is in storage (having its owner fetch it if it is not) and, if it is small, in this
    /// node's hot layer. Runs once per node however many requests wait for it.
    /// </summary>
    private async Task<FetchOutcome> EnsureStoredAsync(CrateName name, string version, string key)
    {
        if (await _store.GetPropertiesOrNullAsync(key, _stopping) is null)
        {
            var fetched = await _owners.EnsureStoredAsync(name, version, _stopping);
            if (fetched.Status != CrateFileStatus.Found)
            {
                return fetched;
            }

            await _hotFiles.WarmAsync(key, _store, _stopping);
            return fetched;
        }

        await _hotFiles.WarmAsync(key, _store, _stopping);
        return FetchOutcome.Stored;
    }

    /// <summary>
    /// The owner's half of a crate file: if storage does not hold it, finds its line in the owner's index entry
    /// (revalidating once if the version is missing from an older copy) and downloads it. Runs once per version in
    /// the cluster (<see cref="CrateOwner"/>).
    /// </summary>
    internal async Task<FetchOutcome> EnsureStoredAsOwnerAsync(CrateName name, string version, Func<TimeSpan?, Task<IndexRefresh>> getIndex)
    {
        var key = MirrorKeys.CrateFile(name, version);
        if (await _store.GetPropertiesOrNullAsync(key, _stopping) is not null)
        {
            return FetchOutcome.Stored;
        }

        var index = await getIndex(null);
        if (index.Entry is null)
        {
            return new FetchOutcome(CrateFileStatus.IndexUnavailable, index.Error, index.RetryAfter);
        }

        var line = index.Entry.FindVersion(version);
        if (line is null && index.Entry is { Exists: true } entry &&
            _time.GetUtcNow() - entry.Stored!.FetchedAt > MinRevalidationAge)
        {
            // Maybe published upstream since our copy was fetched: revalidate once, shared with everyone asking.
            line = (await getIndex(MinRevalidationAge)).Entry?.FindVersion(version);
        }

        if (line is null)
        {
            return new FetchOutcome(
                CrateFileStatus.NotFound,
                !index.Entry.Exists ? $"crate '{name}' does not exist" : $"{name} {version} is not in the index",
                null);
        }

        // Upstream's file names use the crate's own spelling (the index line's), not the owner's lower-case key.
        var spelled = CrateName.TryParse(line.Name, out var own) && own.Value.Equals(name) ? own.Value : name;
        var fetched = await TrackUpstreamWorkAsync(() => FetchCrateFileAsync(spelled, line, key));
        return fetched.Status == CrateFileStatus.Found ? FetchOutcome.Fetched : fetched;
    }

    /// <summary>
    /// The owner's answer to "where does this file download": this node's spool of it as soon as its bytes arrive
    /// (<paramref name="flight"/> is the owner's flight for it), or null when the flight is over first or this node
    /// spools nothing.
    /// </summary>
    internal Task<SpoolLocation?> LocateDownloadAsOwnerAsync(CrateName name, string version, Task flight, CancellationToken cancellationToken) =>
        _spools is null ? Task.FromResult<SpoolLocation?>(null) : _spools.LocateAsync(MirrorKeys.CrateFile(name, version), flight, cancellationToken);

    public void Dispose()
    {
        _hot.Dispose();
        _hotFiles.Dispose();
    }

    private IndexResult ResultOf(IndexEntry entry, DateTimeOffset now)
    {
        if (!entry.Exists)
        {
            return IndexResult.Missing;
        }

        var age = now - entry.Stored!.FetchedAt;
        var stale = age > _options.IndexTtl;
        return new IndexResult(IndexStatus.Found, entry, age < TimeSpan.Zero ? TimeSpan.Zero : age, stale, entry.UpstreamError, null)
        {
            Outcome = stale ? CacheOutcome.Stale : CacheOutcome.Hit,
        };
    }

    /// <summary>
    /// This node's refresh of a crate's index entry: storage first (the owner or an earlier run may have stored a fresh
    /// copy), else the crate's owner, which revalidates upstream once for the cluster. When the owner cannot be reached,
    /// a copy this node holds is served (stale) rather than nothing.
    /// </summary>
    private async Task<IndexRefresh> RefreshIndexAsync(CrateName name, IndexEntry? cached)
    {
        var stored = (await ReadStoredIndexOrNullAsync(MirrorKeys.Index(name)))?.Index;
        if (IsFresh(stored, _options.IndexTtl))
        {
            return Remember(name, FreshEntry(stored!));
        }

        var refresh = await _owners.RefreshIndexAsync(name, maxAge: null, _stopping);
        if (refresh.Entry is not null)
        {
            return Remember(name, refresh.Entry);
        }

        // The owner logged why on its silo; this line carries the request that saw it.
        LogIndexUnavailable(_logger, name.Value, refresh.Error ?? "unknown");
        var known = Newest(stored, cached?.Stored);
        return known is null
            ? refresh
            : Remember(name, IndexEntry.Found(known, _time.GetUtcNow() + _options.FailureBackoff)
                .WithFailedRevalidation(_time.GetUtcNow() + _options.FailureBackoff, refresh.Error ?? "the crate's owner is unavailable"));
    }

    /// <summary>
    /// The owner's refresh of a crate's index entry: storage first (a fresh copy within <paramref name="maxAge"/> is
    /// used as it is), then upstream with the validators of the newest copy known. Has no entry only when upstream
    /// failed and nothing is stored or held.
    /// </summary>
    internal async Task<IndexRefresh> RefreshIndexAsOwnerAsync(CrateName name, IndexEntry? held, TimeSpan? maxAge)
    {
        var key = MirrorKeys.Index(name);
        if (_pendingSaves.TryGetValue(key, out var pending))
        {
            await pending; // this owner's last answer is still being stored: read it, not the one before
        }

        var stored = await ReadStoredIndexOrNullAsync(key);
        if (IsFresh(stored?.Index, maxAge ?? _options.IndexTtl))
        {
            return Remember(name, FreshEntry(stored!.Value.Index!));
        }

        return await TrackUpstreamWorkAsync(() => RevalidateAsync(name, key, Newest(stored?.Index, held?.Stored), stored?.ETag));
    }

    /// <summary>
    /// Asks the upstreams (in order, failing over), conditionally when a copy is known and the answering upstream issued
    /// its validators, and stores what they say — keeping versions upstream stopped listing whose files this mirror
    /// holds (<see cref="MirrorOptions.KeepDeleted"/>). Runs in the crate's owner; <paramref name="storedETag"/> is the
    /// stored document's ETag, so the write replaces only what was read (a duplicate owner's write is never lost).
    /// </summary>
    private async Task<IndexRefresh> RevalidateAsync(CrateName name, string key, StoredIndex? known, string? storedETag)
    {
        Interlocked.Increment(ref _upstreamIndexFetches);
        if (storedETag is null)
        {
            _ = _store.PrepareWriteAsync(key, _stopping); // a new crate's folder is made while upstream answers
        }

        var result = await _upstreams.FetchIndexFileAsync(name, known, _stopping);
        var now = _time.GetUtcNow();
        switch (result.Status)
        {
            case IndexFetchStatus.Modified:
                var fetched = new StoredIndex(result.Body!, result.ETag, result.LastModified, now) { Upstream = result.Upstream };
                return SaveAfterAnswering(name, key, await KeepDeletedVersionsAsync(name, known, fetched), storedETag);
            case IndexFetchStatus.NotModified when known is not null:
                return SaveAfterAnswering(name, key, known with { FetchedAt = now }, storedETag);
            case IndexFetchStatus.NotFound when known is not null && _options.KeepDeleted:
                // The whole crate is gone upstream: keep serving the versions whose files we hold, if any.
                var gone = new StoredIndex([], null, null, now) { Upstream = result.Upstream };
                var kept = await KeepDeletedVersionsAsync(name, known, gone);
                return kept.DeletedUpstream.Count > 0
                    ? SaveAfterAnswering(name, key, kept, storedETag)
                    : Remember(name, IndexEntry.NotFound(now + _options.NotFoundTtl));
            case IndexFetchStatus.NotFound:
                return Remember(name, IndexEntry.NotFound(now + _options.NotFoundTtl));
            default:
                var error = result.Error ?? "upstream answered 304 to an unconditional request";
                LogRevalidationFailed(_logger, name.Value, error, known is not null);
                return known is null
                    ? new IndexRefresh(null, error, result.RetryAfter)
                    : Remember(name, IndexEntry.Found(known, now + _options.FailureBackoff).WithFailedRevalidation(now + _options.FailureBackoff, error));
        }
    }

    /// <summary>
    /// <c>Mirror:KeepDeleted</c>: versions in the previous body that upstream's new body no longer lists, and whose crate
    /// files this mirror holds, keep their previous lines (earlier upstream bytes, verbatim), appended to the new body
    /// and flagged in <see cref="StoredIndex.DeletedUpstream"/>. Versions without a held file are dropped as upstream
    /// says; a kept version that upstream lists again is upstream's line once more and no longer flagged.
    /// </summary>
    private async Task<StoredIndex> KeepDeletedVersionsAsync(CrateName name, StoredIndex? previous, StoredIndex fetched)
    {
        if (!_options.KeepDeleted || previous is null)
        {
            return fetched;
        }

        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in IndexFile.Lines(fetched.Body))
        {
            if (IndexLine.TryParse(line.Span) is { } parsed)
            {
                listed.Add(WithoutBuildMetadata(parsed.Version));
            }
        }

        List<(ReadOnlyMemory<byte> Line, string Version)>? kept = null;
        foreach (var line in IndexFile.Lines(previous.Body))
        {
            if (IndexLine.TryParse(line.Span) is { } parsed &&
                !listed.Contains(WithoutBuildMetadata(parsed.Version)) &&
                await HoldsFileAsync(name, parsed.Version))
            {
                (kept ??= []).Add((line, parsed.Version));
            }
        }

        if (kept is null)
        {
            return fetched;
        }

        using var body = new MemoryStream(fetched.Body.Length + kept.Sum(k => k.Line.Length + 1));
        body.Write(fetched.Body);
        if (fetched.Body.Length > 0 && fetched.Body[^1] != (byte)'\n')
        {
            body.WriteByte((byte)'\n');
        }

        foreach (var (line, _) in kept)
        {
            body.Write(line.Span);
            body.WriteByte((byte)'\n');
        }

        var versions = kept.Select(k => k.Version).ToList();
        var newlyDeleted = versions.Except(previous.DeletedUpstream, StringComparer.Ordinal).ToList();
        if (newlyDeleted.Count > 0)
        {
            LogKeptDeletedVersions(_logger, name.Value, string.Join(", ", newlyDeleted));
        }

        return fetched with { Body = body.ToArray(), DeletedUpstream = versions };
    }

    /// <summary>Whether this mirror holds the crate file; when storage cannot say, assume so (never drop what we may hold).</summary>
    private async Task<bool> HoldsFileAsync(CrateName name, string version)
    {
        var key = MirrorKeys.CrateFile(name, version);
        try
        {
            return await _store.GetPropertiesOrNullAsync(key, _stopping) is not null;
        }
        catch (Exception e) when (e is IOException or StorageUnavailableException or UnauthorizedAccessException)
        {
            LogStorageReadFailed(_logger, key, e.Message);
            return true;
        }
    }

    private static string WithoutBuildMetadata(string version)
    {
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }

    private bool IsFresh(StoredIndex? stored, TimeSpan maxAge) => stored is not null && _time.GetUtcNow() - stored.FetchedAt < maxAge;

    private IndexEntry FreshEntry(StoredIndex stored) => IndexEntry.Found(stored, stored.FetchedAt + _options.IndexTtl);

    /// <summary>
    /// Answers with <paramref name="index"/> at once (it is in this node's memory, which serves it) and stores it
    /// meanwhile: the stored document is a copy for other nodes and restarts, checked by its body's sha256 when read and
    /// fetched again if lost, so no caller waits for the write (milliseconds of a cold request's own cost). The write
    /// counts as this node's upstream work (<see cref="WhenDrainedAsync"/>, the drain on stop); the owner's next refresh
    /// of the crate waits for it. When another writer's document wins the write, memory holds that one instead.
    /// </summary>
    private IndexRefresh SaveAfterAnswering(CrateName name, string key, StoredIndex index, string? storedETag)
    {
        var answer = IndexEntry.Found(index, index.FetchedAt + _options.IndexTtl);
        var refresh = Remember(name, answer);
        var saving = TrackUpstreamWorkAsync(async () =>
        {
            // A moment after the answer, never ahead of it. This runs where upstream's answer arrived (a socket event
            // thread, with inline completions), so work queued from here reaches the thread pool before the answer's
            // own continuation: measured, 22 of 30 cold index answers waited for their save to start first (0.25 ms
            // more each). Real time, not the coordinator's clock: a pause of scheduling, not of the registry's logic.
            await Task.Delay(SaveAfterAnswer, CancellationToken.None);
            try
            {
                var saved = await SaveAsync(name, key, index, storedETag);
                if (!ReferenceEquals(saved.Stored, index) && ReferenceEquals(_hot.Get<IndexEntry>(name.Lower), answer))
                {
                    Remember(name, saved); // another writer's newer document: serve that
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // This node stops: the document is fetched again by whoever owns the crate next.
            }
            catch (Exception e)
            {
                // Nobody awaits this write: whatever broke it is logged, and the next refresh stores again.
                LogStorageWriteFailed(_logger, key, e.Message);
            }

            return true;
        });
        _pendingSaves[key] = saving;
        _ = saving.ContinueWith(
            (done, state) => ((CrateCoordinator)state!)._pendingSaves.TryRemove(new KeyValuePair<string, Task>(key, done)),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return refresh;
    }

    /// <summary>
    /// Completes when the crate's index document this node answered with is stored (at once when none is being stored
    /// here): the owner's answer goes out before its write (<see cref="SaveAfterAnswering"/>).
    /// </summary>
    public Task WhenIndexStoredAsync(CrateName name, CancellationToken cancellationToken) =>
        _pendingSaves.TryGetValue(MirrorKeys.Index(name), out var pending) ? pending.WaitAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>How long after its answer an index document's save starts (<see cref="SaveAfterAnswering"/>).</summary>
    private static readonly TimeSpan SaveAfterAnswer = TimeSpan.FromMilliseconds(1);

    /// <summary>Index documents being stored after their answer (<see cref="SaveAfterAnswering"/>), by key.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task> _pendingSaves = new(StringComparer.Ordinal);

    /// <summary>
    /// Stores an index document through the one read-modify-write (<see cref="ConditionalUpdate"/>), replacing only the
    /// stored document this owner read (<paramref name="storedETag"/>; create-only when there was none). When another
    /// writer got there first (a duplicate activation of the crate's grain during a membership change, another region),
    /// the decide step sees its document: if it is at least as new, it is adopted and ours dropped; otherwise ours
    /// replaces exactly that one. Nothing is overwritten unseen.
    /// </summary>
    private async Task<IndexEntry> SaveAsync(CrateName name, string key, StoredIndex index, string? storedETag)
    {
        try
        {
            var saved = await _store.UpdateAsync(
                key,
                current =>
                {
                    if (current?.ETag == storedETag)
                    {
                        return UpdateDecision<StoredIndex>.Replace(index.Serialize(), index); // still the document this owner read
                    }

                    Interlocked.Increment(ref _indexWriteConflicts);
                    var theirs = current is { } other ? StoredIndex.TryDeserialize(other.Content) : null;
                    LogIndexWriteConflict(_logger, name.Value, theirs?.FetchedAt);
                    return theirs is not null && theirs.FetchedAt >= index.FetchedAt
                        ? UpdateDecision<StoredIndex>.Keep(theirs)
                        : UpdateDecision<StoredIndex>.Replace(index.Serialize(), index); // an unreadable document is replaced
                },
                _stopping,
                maxAttempts: 3,
                // A copy of upstream's data, checked by its body's sha256 when read and fetched again if lost or torn:
                // no fsync on the cold path (milliseconds per index file; measured, it was most of a miss's own cost).
                durability: WriteDurability.Cache);
            return IndexEntry.Found(saved.Result, saved.Result.FetchedAt + _options.IndexTtl);
        }
        catch (Exception e) when (e is IOException or StorageUnavailableException or UnauthorizedAccessException)
        {
            // Serving what upstream just sent is still right; the next refresh tries to store it again.
            LogStorageWriteFailed(_logger, key, e.Message);
        }

        return IndexEntry.Found(index, index.FetchedAt + _options.IndexTtl);
    }

    /// <summary>Conditional index writes that found another writer's document in place (see <see cref="SaveAsync"/>).</summary>
    public long IndexWriteConflicts => Interlocked.Read(ref _indexWriteConflicts);

    private long _indexWriteConflicts;

    /// <summary>The stored index document and its storage ETag; one this version cannot read comes back with a null index (and is replaced).</summary>
    private async Task<(StoredIndex? Index, string ETag)?> ReadStoredIndexOrNullAsync(string key)
    {
        try
        {
            var bytes = await _store.ReadSmallOrNullAsync(key, _stopping);
            return bytes is null ? null : (StoredIndex.TryDeserialize(bytes.Value.Content), bytes.Value.ETag);
        }
        catch (Exception e) when (e is IOException or StorageUnavailableException or UnauthorizedAccessException)
        {
            LogStorageReadFailed(_logger, key, e.Message);
            return null;
        }
    }

    /// <summary>Keeps the entry in this node's memory (so the warm path serves it without asking anyone) and returns it.</summary>
    private IndexRefresh Remember(CrateName name, IndexEntry entry)
    {
        _hot.Set(name.Lower, entry, new MemoryCacheEntryOptions { Size = entry.SizeInBytes });
        return new IndexRefresh(entry, null, null);
    }

    private static StoredIndex? Newest(StoredIndex? a, StoredIndex? b) =>
        a is null ? b : b is null ? a : a.FetchedAt >= b.FetchedAt ? a : b;

    /// <summary>
    /// Gets one crate file into storage. Called by the crate's owner only, once per version at a time for the whole
    /// cluster; the create-only commit is the fence should a duplicate owner ever download it too.
    /// </summary>
    private Task<FetchOutcome> FetchCrateFileAsync(CrateName name, IndexLine line, string key) =>
        DownloadAndStoreAsync(name, line, key);

    /// <summary>
    /// Downloads one crate file from upstream, hashing while it streams into an uncommitted upload, and commits it
    /// only if every byte arrived and the sha256 equals the index checksum. Anything else leaves nothing behind.
    /// </summary>
    private Task<FetchOutcome> DownloadAndStoreAsync(CrateName name, IndexLine line, string key)
    {
        Interlocked.Increment(ref _upstreamFileFetches);
        _ = _store.PrepareWriteAsync(key, _stopping); // the file's folder is made while upstream answers
        // The upstreams are asked in order; each one's bytes go through the same verify-then-commit path.
        return _upstreams.DownloadAsync(name, line, download => ReceiveAndStoreAsync(name, line, key, download), _stopping);
    }

    /// <summary>
    /// Streams one upstream's download into an uncommitted upload while hashing it, and commits only if every byte
    /// arrived and the sha256 equals the index checksum (<see cref="CrateFileReceiver"/>). Anything else leaves nothing behind.
    /// </summary>
    private Task<FetchOutcome> ReceiveAndStoreAsync(CrateName name, IndexLine line, string key, UpstreamDownload download) =>
        CrateFileReceiver.ReceiveAndStoreAsync(_store, _options.MaxCrateBytes, _logger, name, line, key, download, _spools, _stopping);
}
