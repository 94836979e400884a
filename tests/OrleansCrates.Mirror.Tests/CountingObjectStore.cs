using OrleansCrates.Storage;

namespace OrleansCrates.Mirror.Tests;

/// <summary>Passes everything to a real store and counts the calls that reach it.</summary>
public sealed class CountingObjectStore(IObjectStore inner) : IObjectStore
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _prepared = new();
    private int _reads;
    private int _properties;

    /// <summary>The keys whose writes were prepared (<see cref="IObjectStore.PrepareWriteAsync"/>), in order.</summary>
    public IReadOnlyList<string> Prepared => [.. _prepared];

    public int Reads => Volatile.Read(ref _reads);

    public int PropertyLookups => Volatile.Read(ref _properties);

    public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return inner.OpenReadOrNullAsync(key, cancellationToken);
    }

    public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _properties);
        return inner.GetPropertiesOrNullAsync(key, cancellationToken);
    }

    public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken) =>
        inner.BeginUploadAsync(key, condition, cancellationToken);

    public Task PrepareWriteAsync(string key, CancellationToken cancellationToken)
    {
        _prepared.Enqueue(key);
        return inner.PrepareWriteAsync(key, cancellationToken);
    }

    public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) =>
        inner.DeleteAsync(key, ifMatch, cancellationToken);

    public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) =>
        inner.ListAsync(prefix, cancellationToken);

    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);
}
