using OrleansCrates.Storage;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// Wraps a store with a few milliseconds of latency before every call, as network storage has, so racing nodes really
/// interleave between reading an object and writing it back; counts the conditional writes that lost.
/// </summary>
public sealed class LatencyStore(IObjectStore inner, StoreStats stats) : IObjectStore
{
    public async Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        await PauseAsync(cancellationToken);
        return await inner.OpenReadOrNullAsync(key, cancellationToken);
    }

    public async Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken)
    {
        await PauseAsync(cancellationToken);
        return await inner.GetPropertiesOrNullAsync(key, cancellationToken);
    }

    public async Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken) =>
        new Upload(await inner.BeginUploadAsync(key, condition, cancellationToken), condition, stats);

    public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => inner.DeleteAsync(key, ifMatch, cancellationToken);

    public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

    private static Task PauseAsync(CancellationToken cancellationToken) =>
        Task.Delay(TimeSpan.FromMilliseconds(1 + Random.Shared.Next(4)), cancellationToken);

    private sealed class Upload(IObjectUpload inner, WriteCondition condition, StoreStats stats) : IObjectUpload
    {
        public Stream Content => inner.Content;

        public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
        {
            await PauseAsync(cancellationToken);
            var result = await inner.CommitAsync(cancellationToken);
            if (condition.Kind == WriteConditionKind.IfMatch && result.Status == PutStatus.PreconditionFailed)
            {
                Interlocked.Increment(ref stats.LostIfMatch);
            }

            if (condition.Kind == WriteConditionKind.IfNotExists && result.Status == PutStatus.AlreadyExists)
            {
                Interlocked.Increment(ref stats.LostIfNotExists);
            }

            return result;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

/// <summary>How many conditional writes lost a race (shared by every node of a test).</summary>
public sealed class StoreStats
{
    public int LostIfMatch;
    public int LostIfNotExists;

    public override string ToString() => $"{LostIfMatch} IfMatch and {LostIfNotExists} IfNotExists writes lost a race";
}
