namespace OrleansCrates.Upstream;

public enum IndexFetchStatus
{
    /// <summary>200: a new body.</summary>
    Modified,

    /// <summary>304: the copy the caller holds is current.</summary>
    NotModified,

    /// <summary>404, 410 or 451: the crate does not exist upstream.</summary>
    NotFound,

    /// <summary>Anything else: the upstream could not answer. Never to be reported as "not found".</summary>
    Failed,
}

/// <summary>The outcome of fetching one index file.</summary>
public sealed record IndexFetchResult(
    IndexFetchStatus Status,
    byte[]? Body = null,
    string? ETag = null,
    string? LastModified = null,
    string? Error = null,
    TimeSpan? RetryAfter = null)
{
    /// <summary>The name of the upstream that answered (set by whoever chose the upstream); null for a failure.</summary>
    public string? Upstream { get; init; }

    public static IndexFetchResult Failure(string error, TimeSpan? retryAfter = null) => new(IndexFetchStatus.Failed, Error: error, RetryAfter: retryAfter);
}

public enum DownloadStatus
{
    Ok,
    NotFound,
    Failed,
}

/// <summary>
/// An upstream download in progress. <see cref="Body"/> streams from the network; a stall longer than the upstream's
/// timeout fails the read. Dispose it to release the connection and the upstream concurrency slot.
/// </summary>
public sealed class UpstreamDownload : IAsyncDisposable
{
    private readonly IAsyncDisposable? _owner;

    private UpstreamDownload(DownloadStatus status, Stream? body, long? length, string? contentType, string? error, TimeSpan? retryAfter, IAsyncDisposable? owner)
    {
        Status = status;
        Body = body;
        ContentLength = length;
        ContentType = contentType;
        Error = error;
        RetryAfter = retryAfter;
        _owner = owner;
    }

    public DownloadStatus Status { get; }

    public Stream? Body { get; }

    public long? ContentLength { get; }

    public string? ContentType { get; }

    public string? Error { get; }

    public TimeSpan? RetryAfter { get; }

    internal static UpstreamDownload Ok(Stream body, long? length, string? contentType, IAsyncDisposable owner) =>
        new(DownloadStatus.Ok, body, length, contentType, null, null, owner);

    internal static UpstreamDownload NotFound() => new(DownloadStatus.NotFound, null, null, null, null, null, null);

    internal static UpstreamDownload Failure(string error, TimeSpan? retryAfter = null) =>
        new(DownloadStatus.Failed, null, null, null, error, retryAfter, null);

    public ValueTask DisposeAsync() => _owner?.DisposeAsync() ?? ValueTask.CompletedTask;
}
