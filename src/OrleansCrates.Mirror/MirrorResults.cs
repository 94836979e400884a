using OrleansCrates.Storage;

namespace OrleansCrates.Mirror;

public enum IndexStatus
{
    Found,
    NotFound,

    /// <summary>Upstream failed and nothing was ever cached: the client should retry later (503), not conclude "not found".</summary>
    Unavailable,
}

/// <summary>The outcome of asking for a crate's index file.</summary>
public sealed record IndexResult(IndexStatus Status, IndexEntry? Entry, TimeSpan Age, bool IsStale, string? Error, TimeSpan? RetryAfter)
{
    /// <summary>Hit, miss or stale (set on found entries).</summary>
    public CacheOutcome Outcome { get; init; } = CacheOutcome.Hit;

    public static IndexResult Unavailable(string error, TimeSpan? retryAfter) => new(IndexStatus.Unavailable, null, TimeSpan.Zero, false, error, retryAfter);

    public static readonly IndexResult Missing = new(IndexStatus.NotFound, null, TimeSpan.Zero, false, null, null);
}

public enum CrateFileStatus
{
    Found,
    NotFound,

    /// <summary>Upstream sent something that is not the file the index describes (bad checksum, truncated, empty).</summary>
    BadUpstreamFile,

    /// <summary>The transfer from upstream failed (refused, reset, timed out, 5xx, 429); retry later.</summary>
    UpstreamUnavailable,

    /// <summary>The crate's index is not cached and upstream cannot be asked: whether the version exists is unknown.</summary>
    IndexUnavailable,

    /// <summary>Upstream delivered, but storage could not take the file (full disk, quota, blob service failing); retry later.</summary>
    StorageUnavailable,

    /// <summary>The crate's owner in the cluster did not answer in time (a silo died and was not yet replaced): retry later (503).</summary>
    OwnerUnavailable,
}

/// <summary>The outcome of asking for a crate file. Dispose it to release <see cref="File"/>.</summary>
public sealed record CrateFileResult(CrateFileStatus Status, StoredObject? File, string? Error, TimeSpan? RetryAfter) : IAsyncDisposable
{
    /// <summary>Hit when the file was already held (memory or storage), miss when this request waited for it to be fetched upstream.</summary>
    public CacheOutcome Outcome { get; init; } = CacheOutcome.Hit;

    /// <summary>Where the client can read the stored file itself (a redirect to storage, see <see cref="CrateDownloads"/>); null to serve <see cref="File"/>.</summary>
    public Uri? Location { get; init; }

    public static CrateFileResult Found(StoredObject file) => new(CrateFileStatus.Found, file, null, null);

    /// <summary>
    /// The file is being downloaded on this node: its bytes as they arrive (unverified; the stream breaks if they turn
    /// out wrong, and never ends before they are verified and stored). <see cref="File"/> is null.
    /// </summary>
    public Streaming.SpoolRead? Streaming { get; init; }

    public static CrateFileResult NotFound(string reason) => new(CrateFileStatus.NotFound, null, reason, null);

    public ValueTask DisposeAsync() => File?.DisposeAsync() ?? Streaming?.Content.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>The outcome of one upstream fetch of a crate file, shared by every waiter.</summary>
public sealed record FetchOutcome(CrateFileStatus Status, string? Error, TimeSpan? RetryAfter)
{
    public static readonly FetchOutcome Stored = new(CrateFileStatus.Found, null, null);

    /// <summary>Stored now, having been downloaded from upstream for this flight.</summary>
    public static readonly FetchOutcome Fetched = new(CrateFileStatus.Found, null, null) { FromUpstream = true };

    public bool FromUpstream { get; init; }

    /// <summary>Storage could not take the file: not the upstream's failure, so no other upstream is asked.</summary>
    public static FetchOutcome StorageFailed(string error) => new(CrateFileStatus.StorageUnavailable, error, TimeSpan.FromSeconds(30));
}

/// <summary>The outcome of one index refresh, shared by every waiter: an entry, or why there is none.</summary>
public sealed record IndexRefresh(IndexEntry? Entry, string? Error, TimeSpan? RetryAfter);
