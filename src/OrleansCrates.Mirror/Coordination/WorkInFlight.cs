namespace OrleansCrates.Mirror.Coordination;

/// <summary>
/// Pieces of work in flight, and when there are none: <see cref="WhenIdle"/> completes the moment the count falls to
/// zero, and the next <see cref="Begin"/> starts a new one. Thread-safe; every <see cref="Begin"/> is paired with one
/// <see cref="End"/>.
/// </summary>
public sealed class WorkInFlight
{
    private readonly Lock _gate = new();
    private int _count;
    private TaskCompletionSource _idle = NewIdle(completed: true);

    public int Count => Volatile.Read(ref _count);

    /// <summary>Completes when no work is in flight (at once when none is now).</summary>
    public Task WhenIdle
    {
        get
        {
            lock (_gate)
            {
                return _idle.Task;
            }
        }
    }

    public void Begin()
    {
        lock (_gate)
        {
            if (_count++ == 0)
            {
                _idle = NewIdle(completed: false);
            }
        }
    }

    public void End()
    {
        lock (_gate)
        {
            if (--_count == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource NewIdle(bool completed)
    {
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            idle.SetResult();
        }

        return idle;
    }
}
