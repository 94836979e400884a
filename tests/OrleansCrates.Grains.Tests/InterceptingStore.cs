using OrleansCrates.Storage;

namespace OrleansCrates.Grains.Tests;

/// <summary>
/// One silo's view of the store every silo of a test shares: it passes everything to <see cref="Inner"/>, counts the
/// conditional writes that lost (in <see cref="WriteLog"/>, shared by the silos), and lets a test step in once just
/// before a chosen conditional write, that is between a writer's read and its write: to make a conflicting write of
/// its own there (standing in for the offline CLI or another region), or to hold the writer in place.
/// </summary>
public sealed class InterceptingStore(IObjectStore inner, string siloName, WriteLog log) : IObjectStore
{
    public IObjectStore Inner => inner;

    public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken) => inner.OpenReadOrNullAsync(key, cancellationToken);

    public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => inner.GetPropertiesOrNullAsync(key, cancellationToken);

    public async Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        if (condition.Kind != WriteConditionKind.None && log.TakeInterception(key) is { } interception)
        {
            await interception.StepInAsync(siloName, cancellationToken);
        }

        return new CountedUpload(await inner.BeginUploadAsync(key, condition, cancellationToken), condition, log);
    }

    public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => inner.DeleteAsync(key, ifMatch, cancellationToken);

    public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

    private sealed class CountedUpload(IObjectUpload upload, WriteCondition condition, WriteLog log) : IObjectUpload
    {
        public Stream Content => upload.Content;

        public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
        {
            var result = await upload.CommitAsync(cancellationToken);
            if (condition.Kind != WriteConditionKind.None && !result.Succeeded)
            {
                Interlocked.Increment(ref log.LostConditionalWrites);
            }

            return result;
        }

        public ValueTask DisposeAsync() => upload.DisposeAsync();
    }
}

/// <summary>What the silos' stores share: lost conditional writes, and at most one pending interception.</summary>
public sealed class WriteLog
{
    public int LostConditionalWrites;

    private Interception? _pending;

    /// <summary>
    /// Runs <paramref name="stepIn"/> once, before the next conditional write of <paramref name="key"/> by any silo
    /// (after that writer read what it is about to replace); the write then goes ahead.
    /// </summary>
    public Interception InterceptNextWrite(string key, Func<CancellationToken, Task> stepIn)
    {
        var interception = new Interception(key, stepIn);
        Assert.Null(Interlocked.CompareExchange(ref _pending, interception, null));
        return interception;
    }

    internal Interception? TakeInterception(string key)
    {
        var pending = Volatile.Read(ref _pending);
        return pending is not null && pending.Key == key && Interlocked.CompareExchange(ref _pending, null, pending) == pending ? pending : null;
    }
}

public sealed class Interception(string key, Func<CancellationToken, Task> stepIn)
{
    private readonly TaskCompletionSource<string> _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Key => key;

    /// <summary>The name of the silo whose writer was stopped before its write.</summary>
    public Task<string> Reached => _reached.Task;

    /// <summary>Completes when the test's own step is done (the intercepted write goes ahead after it).</summary>
    public Task Done => _done.Task;

    internal async Task StepInAsync(string siloName, CancellationToken cancellationToken)
    {
        _reached.TrySetResult(siloName);
        try
        {
            await stepIn(cancellationToken);
            _done.TrySetResult();
        }
        catch (Exception e)
        {
            _done.TrySetException(e);
            throw;
        }
    }
}
