namespace OrleansCrates.Grains;

/// <summary>
/// One mirrored crate, for the whole cluster; keyed by the crate's lower-case name. It owns the crate's index entry and
/// every fetch of its versions. Reentrant: callers wait on shared flights, never on each other's turns. Crate bytes
/// never travel in its messages (they go upstream → hashing → storage); callers read the stored file themselves.
/// </summary>
public interface ICrateGrain : IGrainWithStringKey
{
    /// <summary>
    /// The crate's index entry, revalidated upstream first if it is older than <paramref name="maxAge"/> (null: when
    /// its own check time has passed). While it is being revalidated, the copy is returned, marked to be asked again shortly.
    /// </summary>
    [ResponseTimeout("00:05:00")]
    Task<CrateIndexReply> GetIndexAsync(TimeSpan? maxAge, CancellationToken cancellationToken);

    /// <summary>
    /// Makes sure one version's file is in storage, downloading and verifying it once however many callers ask. The
    /// response timeout only backs up the caller's own deadline, which is derived from <c>Mirror:MaxCrateBytes</c>
    /// (<c>CrateGrains</c>): a 1 GiB crate at 1 MiB/s takes 17 minutes.
    /// </summary>
    [ResponseTimeout("1.00:00:00")]
    Task<CrateFileReply> EnsureStoredAsync(string version, CancellationToken cancellationToken);

    /// <summary>
    /// Where one version's download can be followed while it runs (joining the download in progress, or starting it):
    /// the downloading silo's internal HTTP base URL and its spool's id, as soon as the bytes arrive; null when the
    /// download is over first (stored, or failed). Callers read the bytes from that silo, never from this message.
    /// </summary>
    [ResponseTimeout("00:10:00")]
    Task<DownloadLocation?> LocateDownloadAsync(string version, CancellationToken cancellationToken);
}

/// <summary>
/// Where a download in progress can be read: <c>GET {Node}spools/{SpoolId}</c> on the downloading silo's internal
/// listener (<c>Cluster:InternalHttpPort</c>; <see cref="Node"/> null when that silo serves its spools to no one),
/// with the length upstream announced and the sha256 the bytes must have.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansCrates.DownloadLocation")]
public sealed record DownloadLocation(
    [property: Id(0)] string SpoolId,
    [property: Id(1)] string? Node,
    [property: Id(2)] long? Length,
    [property: Id(3)] string? Sha256);

[GenerateSerializer]
public enum CrateIndexState
{
    Found,
    NotFound,

    /// <summary>Upstream failed and nothing is stored: retry later.</summary>
    Unavailable,

    /// <summary>The grain's silo is shutting down: call again (the next activation is elsewhere).</summary>
    OwnerUnavailable,
}

/// <summary>
/// An index entry as the crate's grain answers it: the stored document (header line and upstream body, byte for byte),
/// until when it is used without asking again, and the upstream error when it is a copy kept over a failed revalidation.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansCrates.CrateIndexReply")]
public sealed record CrateIndexReply(
    [property: Id(0)] CrateIndexState State,
    [property: Id(1)] byte[]? StoredIndex,
    [property: Id(2)] DateTimeOffset NextCheckAt,
    [property: Id(3)] string? Error,
    [property: Id(4)] TimeSpan? RetryAfter);

[GenerateSerializer]
public enum CrateFileState
{
    Found,
    NotFound,
    BadUpstreamFile,
    UpstreamUnavailable,
    IndexUnavailable,
    OwnerUnavailable,

    /// <summary>Upstream delivered, but storage could not take the file (full disk, quota): a storage failure (503), not upstream's.</summary>
    StorageUnavailable,
}

/// <summary>Whether one version's file is now in storage, and if not, why; <c>FromUpstream</c> when this flight downloaded it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansCrates.CrateFileReply")]
public sealed record CrateFileReply(
    [property: Id(0)] CrateFileState State,
    [property: Id(1)] string? Error,
    [property: Id(2)] TimeSpan? RetryAfter,
    [property: Id(3)] bool FromUpstream);
