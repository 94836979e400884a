namespace OrleansCrates.Storage.FileSystem;

/// <summary>
/// Leases as OS file locks in the store's root, so every process sharing the root (one machine, or a shared
/// filesystem with working locks) coordinates. The kernel drops a lock the moment its holder dies.
/// </summary>
public sealed class FileSystemLeaseProvider(FileSystemObjectStore store) : ILeaseProvider
{
    public Task<ILease?> TryAcquireAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        cancellationToken.ThrowIfCancellationRequested();
        var held = FileLock.TryAcquire(store.LockPathFor("lease!" + key));
        return Task.FromResult<ILease?>(held is null ? null : new Lease(key, held));
    }

    private sealed class Lease(string key, FileLock held) : ILease
    {
        public string Key => key;

        public ValueTask DisposeAsync() => held.DisposeAsync();
    }
}
