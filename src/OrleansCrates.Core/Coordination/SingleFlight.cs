using System.Collections.Concurrent;

namespace OrleansCrates.Core.Coordination;

/// <summary>
/// Runs at most one piece of work per key at a time within this process; everyone who asks while it runs shares its
/// outcome. The work is detached from every caller: a caller that gives up (its client disconnected) stops waiting,
/// but the work goes on for the others, and for the cache. Exceptions (cancellation of the work included) reach every waiter alike.
/// </summary>
public sealed class SingleFlight<TKey, TResult>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Task<TResult>> _inFlight = new();

    public int InFlightCount => _inFlight.Count;

    /// <summary>Joins the work running for <paramref name="key"/>, or starts <paramref name="work"/> if none is.</summary>
    /// <returns>The shared task, and whether this call started it.</returns>
    public (Task<TResult> Task, bool Started) Join(TKey key, Func<Task<TResult>> work)
    {
        while (true)
        {
            if (_inFlight.TryGetValue(key, out var running))
            {
                return (running, false);
            }

            var completion = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_inFlight.TryAdd(key, completion.Task))
            {
                _ = RunAsync(key, work, completion);
                return (completion.Task, true);
            }
        }
    }

    private async Task RunAsync(TKey key, Func<Task<TResult>> work, TaskCompletionSource<TResult> completion)
    {
        TResult result;
        try
        {
            // Off the caller's stack, so nothing of the caller's context (or its cancellation) leaks into the work.
            result = await Task.Run(work);
        }
        catch (Exception e)
        {
            Finish(key, completion, () => completion.SetException(e));
            return;
        }

        Finish(key, completion, () => completion.SetResult(result));
    }

    /// <summary>
    /// Leaves the table before publishing the outcome, so whoever asks after the outcome is known starts afresh
    /// (the work's own storage checks make that cheap) instead of reusing a finished, possibly stale, run.
    /// </summary>
    private void Finish(TKey key, TaskCompletionSource<TResult> completion, Action publish)
    {
        _inFlight.TryRemove(new KeyValuePair<TKey, Task<TResult>>(key, completion.Task));
        publish();
    }
}
