using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Accounts.Tests;

/// <summary>A real filesystem store in a temp folder, removed on dispose.</summary>
public sealed class TempStore : IDisposable
{
    public TempStore()
    {
        Root = Path.Combine(Path.GetTempPath(), "oc-accounts-" + Guid.NewGuid().ToString("N"));
        Store = new FileSystemObjectStore(Root);
    }

    public string Root { get; }

    public FileSystemObjectStore Store { get; }

    /// <summary>Every object key under <paramref name="prefix"/>.</summary>
    public async Task<List<string>> KeysAsync(string prefix, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var properties in Store.ListAsync(prefix, cancellationToken))
        {
            keys.Add(properties.Key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// Wraps a store to count committed writes, fail the next ones on request (as an unreachable store does) and tell
/// a test when a write lands.
/// </summary>
public sealed class ObservedStore(IObjectStore inner) : IObjectStore
{
    private int _commits;
    private int _failNext;
    private TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _reads;

    public int Commits => Volatile.Read(ref _commits);

    public int Reads => Volatile.Read(ref _reads);

    /// <summary>Completes at the next committed write after it is read.</summary>
    public Task NextCommit => Volatile.Read(ref _committed).Task;

    /// <summary>Completes at the next failure made by <see cref="FailNextUploads"/> after it is read.</summary>
    public Task NextFailure => Volatile.Read(ref _failed).Task;

    public void FailNextUploads(int count) => Volatile.Write(ref _failNext, count);

    public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _reads);
        return inner.OpenReadOrNullAsync(key, cancellationToken);
    }

    public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => inner.GetPropertiesOrNullAsync(key, cancellationToken);

    public async Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (Interlocked.Decrement(ref _failNext) >= 0)
        {
            var failed = Interlocked.Exchange(ref _failed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            failed.TrySetResult();
            throw new StorageUnavailableException("storage is down (test)");
        }

        return new Upload(this, await inner.BeginUploadAsync(key, condition, cancellationToken));
    }

    public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => inner.DeleteAsync(key, ifMatch, cancellationToken);

    public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

    private sealed class Upload(ObservedStore owner, IObjectUpload inner) : IObjectUpload
    {
        public Stream Content => inner.Content;

        public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
        {
            var result = await inner.CommitAsync(cancellationToken);
            if (result.Succeeded)
            {
                Interlocked.Increment(ref owner._commits);
                Interlocked.Exchange(ref owner._committed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }

            return result;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
