using OrleansCrates.Storage;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// A real store whose process "dies" after <c>writesBeforeCrash</c> committed writes: from then on every write and
/// delete throws <see cref="CrashException"/> and reaches nothing, as after kill -9. What the inner store holds is then
/// exactly what a crash at that point leaves behind.
/// </summary>
public sealed class CrashingObjectStore(IObjectStore inner, int writesBeforeCrash) : IObjectStore
{
    private int _writes;

    public bool Crashed { get; private set; }

    public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken) => inner.OpenReadOrNullAsync(key, cancellationToken);

    public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => inner.GetPropertiesOrNullAsync(key, cancellationToken);

    public async Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        CrashIfDue();
        return new Upload(this, await inner.BeginUploadAsync(key, condition, cancellationToken));
    }

    public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken)
    {
        CrashIfDue();
        _writes++;
        return inner.DeleteAsync(key, ifMatch, cancellationToken);
    }

    public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

    private void CrashIfDue()
    {
        if (Crashed || _writes >= writesBeforeCrash)
        {
            Crashed = true;
            throw new CrashException();
        }
    }

    private sealed class Upload(CrashingObjectStore owner, IObjectUpload inner) : IObjectUpload
    {
        public Stream Content => inner.Content;

        public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
        {
            owner.CrashIfDue();
            owner._writes++;
            return await inner.CommitAsync(cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

public sealed class CrashException() : Exception("the process was killed");
