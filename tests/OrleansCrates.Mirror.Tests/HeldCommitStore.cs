using System.Collections.Concurrent;
using OrleansCrates.Storage;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// A real store whose next commit of a chosen key waits until the test lets it go on (or fail), so a test can see what
/// callers get while a write is still running. Everything else passes straight through.
/// </summary>
public sealed class HeldCommitStore(IObjectStore inner) : IObjectStore
{
    private readonly ConcurrentDictionary<string, Hold> _holds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Hold> _beginHolds = new(StringComparer.Ordinal);

    /// <summary>The store underneath, as any other node would read it.</summary>
    public IObjectStore Inner => inner;

    /// <summary>Holds the next commit of <paramref name="key"/>; its <see cref="Hold.Reached"/> completes when it gets there.</summary>
    public Hold HoldNextCommit(string key) => _holds[key] = new Hold();

    /// <summary>
    /// Blocks the calling thread in the next <see cref="BeginUploadAsync"/> of <paramref name="key"/> (at most 60 s), as
    /// the file store's first steps of a write run synchronously: whoever calls it waits, unless it called off its own path.
    /// </summary>
    public Hold HoldNextBegin(string key) => _beginHolds[key] = new Hold();

    public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken) => inner.OpenReadOrNullAsync(key, cancellationToken);

    public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => inner.GetPropertiesOrNullAsync(key, cancellationToken);

    public async Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (_beginHolds.TryRemove(key, out var begin))
        {
            begin.Block();
        }

        var upload = await inner.BeginUploadAsync(key, condition, cancellationToken);
        return _holds.TryRemove(key, out var hold) ? new HeldUpload(upload, hold) : upload;
    }

    public Task PrepareWriteAsync(string key, CancellationToken cancellationToken) => inner.PrepareWriteAsync(key, cancellationToken);

    public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => inner.DeleteAsync(key, ifMatch, cancellationToken);

    public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

    /// <summary>One held commit: reached, then let go on or failed by the test.</summary>
    public sealed class Hold
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<Exception?> _go = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the commit has started and waits.</summary>
        public Task Reached => _reached.Task;

        public void Release() => _go.TrySetResult(null);

        /// <summary>The commit throws <paramref name="failure"/> (a full disk, say) instead of storing anything.</summary>
        public void Fail(Exception failure) => _go.TrySetResult(failure);

        internal void Block()
        {
            _reached.TrySetResult();
            if (!_go.Task.Wait(TimeSpan.FromSeconds(60)))
            {
                throw new TimeoutException("the test never let the held write go on");
            }

            if (_go.Task.Result is { } failure)
            {
                throw failure;
            }
        }

        internal async Task WaitAsync(CancellationToken cancellationToken)
        {
            _reached.TrySetResult();
            if (await _go.Task.WaitAsync(cancellationToken) is { } failure)
            {
                throw failure;
            }
        }
    }

    private sealed class HeldUpload(IObjectUpload upload, Hold hold) : IObjectUpload
    {
        public Stream Content => upload.Content;

        public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
        {
            await hold.WaitAsync(cancellationToken);
            return await upload.CommitAsync(cancellationToken);
        }

        public ValueTask DisposeAsync() => upload.DisposeAsync();
    }
}
