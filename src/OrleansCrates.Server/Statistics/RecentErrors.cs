namespace OrleansCrates.Server.Statistics;

/// <summary>One failed answer: a 5xx, upstream failures (502/503) included.</summary>
public sealed record RecentError(DateTimeOffset At, string Method, string Path, int Status, string? Detail);

/// <summary>The last <see cref="Capacity"/> failed answers of this node, newest first, in memory only.</summary>
public sealed class RecentErrors
{
    public const int Capacity = 50;

    private readonly Lock _gate = new();
    private readonly LinkedList<RecentError> _errors = new();

    public void Add(RecentError error)
    {
        lock (_gate)
        {
            _errors.AddFirst(error);
            if (_errors.Count > Capacity)
            {
                _errors.RemoveLast();
            }
        }
    }

    public IReadOnlyList<RecentError> Snapshot()
    {
        lock (_gate)
        {
            return [.. _errors];
        }
    }
}
