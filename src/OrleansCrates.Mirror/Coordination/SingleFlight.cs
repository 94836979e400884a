using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrleansCrates.Mirror.Coordination;

/// <summary>
/// Runs at most one piece of work per key at a time within this process; everyone who asks while it runs shares its
/// outcome. The work is detached from every caller: a caller that gives up (its client disconnected) stops waiting,
/// but the work goes on for the others, and for the cache. Exceptions (cancellation of the work included) reach every waiter alike.
/// </summary>
/// <remarks>
/// Traced when given an <see cref="ActivitySource"/> that someone listens to: each run is one span named
/// <c>activityName</c>, a child of the caller that started it (the work sees it as <see cref="Activity.Current"/>, so
/// its own spans nest under it), and every caller that joins it while it runs adds a link from the run to its own
/// context (<see cref="Activity.AddLink"/>: the joiners arrive after the span started, so the links cannot be given at
/// its creation). Untraced, a join costs what it did before.
/// </remarks>
public sealed class SingleFlight<TKey, TResult>(ActivitySource? source = null, string? activityName = null)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Flight> _inFlight = new();

    public int InFlightCount => _inFlight.Count;

    /// <summary>Joins the work running for <paramref name="key"/>, or starts <paramref name="work"/> if none is.</summary>
    /// <returns>The shared task, and whether this call started it.</returns>
    public (Task<TResult> Task, bool Started) Join(TKey key, Func<Task<TResult>> work)
    {
        while (true)
        {
            if (_inFlight.TryGetValue(key, out var running))
            {
                running.LinkWaiter();
                return (running.Task, false);
            }

            var flight = new Flight();
            if (_inFlight.TryAdd(key, flight))
            {
                _ = RunAsync(key, work, flight);
                return (flight.Task, true);
            }
        }
    }

    private async Task RunAsync(TKey key, Func<Task<TResult>> work, Flight flight)
    {
        // An async method: the span becomes current here and for the work, and the caller's own context is left as it was.
        using var activity = activityName is null ? null : source?.StartActivity(activityName, ActivityKind.Internal);
        flight.Activity = activity;
        TResult result;
        try
        {
            // Off the caller's stack, so nothing of the caller's cancellation leaks into the work.
            result = await Task.Run(work);
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            Finish(key, flight, () => flight.SetException(e));
            return;
        }

        Finish(key, flight, () => flight.SetResult(result));
    }

    /// <summary>
    /// Leaves the table before publishing the outcome, so whoever asks after the outcome is known starts afresh
    /// (the work's own storage checks make that cheap) instead of reusing a finished, possibly stale, run.
    /// </summary>
    private void Finish(TKey key, Flight flight, Action publish)
    {
        _inFlight.TryRemove(new KeyValuePair<TKey, Flight>(key, flight));
        publish();
    }

    /// <summary>One run: its outcome (this object is its own completion source, so tracing adds no allocation) and its span.</summary>
    private sealed class Flight() : TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public volatile Activity? Activity;

        /// <summary>Links the run's span to the joining caller's context, if both are traced.</summary>
        public void LinkWaiter()
        {
            var span = Activity;
            if (span is { IsAllDataRequested: true } && System.Diagnostics.Activity.Current is { } waiter)
            {
                span.AddLink(new ActivityLink(waiter.Context)); // thread-safe: Activity keeps its links in a locked list
            }
        }
    }
}
