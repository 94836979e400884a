namespace OrleansCrates.Toolchains;

/// <summary>What a toolchain file's owner did (<see cref="ToolchainMirror.EnsureAsOwnerAsync"/>).</summary>
public enum ToolchainFetchStatus
{
    /// <summary>The file is stored and current (fetched now, or found in storage).</summary>
    Stored,

    /// <summary>Upstream could not confirm it, but a stored copy exists: serve it, with its age.</summary>
    Stale,

    NotFound,

    /// <summary>Upstream failed and nothing is stored: retry later (503), never "not found".</summary>
    Unavailable,

    /// <summary>Upstream sent something that does not verify (sha256 mismatch, not a manifest): nothing was stored (502).</summary>
    BadUpstream,

    StorageUnavailable,

    /// <summary>The owner's silo is shutting down: ask again (the next activation is elsewhere).</summary>
    OwnerUnavailable,
}

public sealed record ToolchainFetch(ToolchainFetchStatus Status, string? Error = null, TimeSpan? RetryAfter = null, bool FromUpstream = false)
{
    public static readonly ToolchainFetch Stored = new(ToolchainFetchStatus.Stored);

    public static readonly ToolchainFetch Fetched = new(ToolchainFetchStatus.Stored, FromUpstream: true);

    public static ToolchainFetch Unavailable(string error, TimeSpan? retryAfter = null) => new(ToolchainFetchStatus.Unavailable, error, retryAfter ?? TimeSpan.FromSeconds(5));

    public static ToolchainFetch BadUpstream(string error) => new(ToolchainFetchStatus.BadUpstream, error);
}

public enum ToolchainServeStatus
{
    Found,
    NotFound,
    Unavailable,
    BadUpstream,
    StorageUnavailable,

    /// <summary>Policy does not allow this channel (403).</summary>
    Refused,
}

/// <summary>
/// A toolchain file for one request: its content (stored and verified, or — <see cref="Streaming"/> — a cold archive's
/// bytes as they arrive on this node), or why not. <see cref="Age"/> is how long ago upstream last confirmed a moving
/// file; <see cref="Stale"/> when upstream could not be asked now. Dispose it.
/// </summary>
public sealed record ToolchainResponse(ToolchainServeStatus Status, string? Error = null, TimeSpan? RetryAfter = null) : IAsyncDisposable
{
    public Stream? Content { get; init; }

    public long? Length { get; init; }

    public string? ETag { get; init; }

    public TimeSpan? Age { get; init; }

    public bool Stale { get; init; }

    public bool Streaming { get; init; }

    /// <summary>This request waited for upstream (a cache miss), rather than being served what the mirror held.</summary>
    public bool FromUpstream { get; init; }

    public static ToolchainResponse From(ToolchainFetch fetch, string path) => fetch.Status switch
    {
        ToolchainFetchStatus.NotFound => new(ToolchainServeStatus.NotFound, fetch.Error ?? $"{path} does not exist upstream"),
        ToolchainFetchStatus.BadUpstream => new(ToolchainServeStatus.BadUpstream, fetch.Error, fetch.RetryAfter),
        ToolchainFetchStatus.StorageUnavailable => new(ToolchainServeStatus.StorageUnavailable, fetch.Error, fetch.RetryAfter ?? TimeSpan.FromSeconds(30)),
        _ => new(ToolchainServeStatus.Unavailable, fetch.Error ?? "upstream unavailable", fetch.RetryAfter ?? TimeSpan.FromSeconds(5)),
    };

    public ValueTask DisposeAsync() => Content?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>The owners of toolchain files for the whole cluster (one grain per file), or this process's own without a cluster.</summary>
public interface IToolchainOwners
{
    /// <summary>Makes sure the file at <paramref name="ownerPath"/> is stored and current, fetching it once however many ask.</summary>
    Task<ToolchainFetch> EnsureAsync(string ownerPath, CancellationToken cancellationToken);

    /// <summary>
    /// Where the download of the archive at <paramref name="ownerPath"/> can be followed while it runs (joining the
    /// fetch in progress, or starting it), as soon as its bytes arrive; null when the fetch is over first.
    /// </summary>
    Task<OrleansCrates.Mirror.Streaming.SpoolLocation?> LocateDownloadAsync(string ownerPath, CancellationToken cancellationToken);
}
