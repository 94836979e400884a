namespace OrleansCrates.Storage;

/// <summary>
/// Keyed, immutable-friendly object storage shared by every node of a cluster. Keys are '/'-separated paths validated
/// by <see cref="ObjectKey"/>. Writes become visible only when complete: a reader sees the old object, the new one,
/// or nothing — never part of one.
/// </summary>
public interface IObjectStore
{
    /// <summary>Opens an object for streaming; null when it does not exist.</summary>
    Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken);

    /// <summary>Size, ETag and last-modified time of an object; null when it does not exist.</summary>
    Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a write. The caller writes the content to <see cref="IObjectUpload.Content"/> and then calls
    /// <see cref="IObjectUpload.CommitAsync"/>, which applies <paramref name="condition"/> atomically. Disposing an
    /// upload that was not committed discards it; nothing of it is ever visible.
    /// </summary>
    Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken);

    /// <summary>
    /// Readies the store for a write of <paramref name="key"/> expected shortly, so that a caller about to wait for
    /// something else (an upstream's answer) has it done meanwhile: a file store creates the key's folder. Optional, and
    /// never fails: the write itself does whatever is still needed, and reports what fails.
    /// </summary>
    Task PrepareWriteAsync(string key, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Deletes an object, optionally only if its ETag still matches.</summary>
    Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken);

    /// <summary>Lists objects whose key starts with <paramref name="prefix"/>, in no guaranteed order.</summary>
    IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Checks that storage can be reached and used; never throws for an unreachable store.</summary>
    Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken);
}

/// <summary>A write in progress. Dispose without commit to abandon it.</summary>
public interface IObjectUpload : IAsyncDisposable
{
    /// <summary>Where the content goes. Large content is streamed through, never held whole in memory.</summary>
    Stream Content { get; }

    /// <summary>Makes the written content visible under the key if the write condition holds.</summary>
    Task<PutResult> CommitAsync(CancellationToken cancellationToken);
}

/// <summary>An object opened for reading. Dispose it to release the underlying stream.</summary>
public sealed class StoredObject(Stream content, long length, string etag, DateTimeOffset lastModified) : IAsyncDisposable, IDisposable
{
    public Stream Content { get; } = content;
    public long Length { get; } = length;
    public string ETag { get; } = etag;
    public DateTimeOffset LastModified { get; } = lastModified;

    /// <summary>
    /// The file the content is read from, when it is one (a file on disk, or a sealed memory file of the hot layer), so
    /// a server can have the kernel send it; valid until this object is disposed. Null for anything else (a blob stream).
    /// </summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? FileHandle => Content switch
    {
        FileHandleStream shared => shared.Handle,
        FileStream file => file.SafeFileHandle,
        _ => null,
    };

    public ValueTask DisposeAsync() => Content.DisposeAsync();

    public void Dispose() => Content.Dispose();
}

public sealed record ObjectProperties(string Key, long Length, string ETag, DateTimeOffset LastModified);

/// <summary>When a write may replace what is there, and how durable it must be when it returns (<see cref="Durability"/>).</summary>
public readonly record struct WriteCondition(WriteConditionKind Kind, string? ETag)
{
    /// <summary>
    /// <see cref="WriteDurability.Durable"/> (the default): on disk before the write returns.
    /// <see cref="WriteDurability.Cache"/>: for documents the store only caches (copies of upstream data its reader
    /// checks and can fetch again), which a crash may lose or leave torn; visibility stays atomic either way.
    /// </summary>
    public WriteDurability Durability { get; init; }

    /// <summary>Write whatever is there.</summary>
    public static WriteCondition None => new(WriteConditionKind.None, null);

    /// <summary>Create only: an existing object is left untouched (<see cref="PutStatus.AlreadyExists"/>).</summary>
    public static WriteCondition IfNotExists => new(WriteConditionKind.IfNotExists, null);

    /// <summary>Replace only the object whose ETag is <paramref name="etag"/> (<see cref="PutStatus.PreconditionFailed"/> otherwise).</summary>
    public static WriteCondition IfMatch(string etag) => new(WriteConditionKind.IfMatch, etag);
}

/// <summary>How durable a write must be when it returns (<see cref="WriteCondition.Durability"/>).</summary>
public enum WriteDurability
{
    /// <summary>On stable storage before the write returns (the filesystem store flushes the file to disk first).</summary>
    Durable,

    /// <summary>
    /// A cached copy of data that can be fetched again: the write is visible as atomically as any, but the store need
    /// not flush it to disk first, so a crash may lose it or leave it torn. Readers must check what they read (the
    /// mirror's index documents carry their body's sha256). Providers whose writes are always durable ignore it.
    /// </summary>
    Cache,
}

public enum WriteConditionKind
{
    None,
    IfNotExists,
    IfMatch,
}

public enum PutStatus
{
    /// <summary>The object was written.</summary>
    Written,

    /// <summary>Create-only write, and the object already existed: nothing changed.</summary>
    AlreadyExists,

    /// <summary>Conditional write whose ETag no longer matched (or the object is gone): nothing changed.</summary>
    PreconditionFailed,
}

/// <summary>The outcome of a write; <see cref="ETag"/> is the new object's ETag when <see cref="Status"/> is Written.</summary>
public readonly record struct PutResult(PutStatus Status, string? ETag)
{
    public bool Succeeded => Status == PutStatus.Written;
}

public enum DeleteResult
{
    Deleted,
    NotFound,
    PreconditionFailed,
}

/// <summary>
/// Whether storage can be read (<see cref="Healthy"/>: without it this node cannot serve correct data) and, apart from
/// that, whether a small write works now (<see cref="Writable"/>; a full disk leaves the node able to serve what it holds).
/// </summary>
public sealed record StorageHealth(bool Healthy, string Provider, string Detail)
{
    public bool Writable { get; init; } = true;

    /// <summary>Why the write probe failed, when it did.</summary>
    public string? WriteDetail { get; init; }
}

/// <summary>Storage failed in a way that is not an expected outcome (unreachable, refused, corrupt).</summary>
public sealed class StorageUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
