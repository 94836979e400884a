namespace OrleansCrates.Grains;

/// <summary>
/// One file of the toolchain mirror (a channel manifest with its .sha256, an archive, a rustup binary), for the whole
/// cluster; keyed by its path under <c>/rustup/</c>. Reentrant: every caller joins the one fetch in progress. Bytes
/// never travel in its messages: the file goes upstream → hashing → storage, and callers read storage.
/// </summary>
public interface IToolchainFileGrain : IGrainWithStringKey
{
    /// <summary>Makes sure the file is stored (and, if it moves, current), fetching and verifying it once however many callers ask.</summary>
    [ResponseTimeout("1.00:00:00")]
    Task<ToolchainFileReply> EnsureStoredAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Where this archive's download can be followed while it runs (joining the fetch in progress, or starting it), as
    /// for crates (<see cref="ICrateGrain.LocateDownloadAsync"/>); null when the fetch is over first or the file is not
    /// an archive.
    /// </summary>
    [ResponseTimeout("00:10:00")]
    Task<DownloadLocation?> LocateDownloadAsync(CancellationToken cancellationToken);
}

[GenerateSerializer]
public enum ToolchainFileState
{
    Stored,
    Stale,
    NotFound,
    Unavailable,
    BadUpstream,
    StorageUnavailable,
    OwnerUnavailable,
}

[GenerateSerializer, Immutable, Alias("OrleansCrates.ToolchainFileReply")]
public sealed record ToolchainFileReply(
    [property: Id(0)] ToolchainFileState State,
    [property: Id(1)] string? Error,
    [property: Id(2)] TimeSpan? RetryAfter,
    [property: Id(3)] bool FromUpstream);
