namespace OrleansCrates.Storage;

/// <summary>A small object as read for a read-modify-write: its bytes and the ETag a replacing write must match.</summary>
public readonly record struct CurrentObject(byte[] Content, string ETag);

/// <summary>
/// What one attempt of a read-modify-write decided: the bytes to write (null: write nothing and finish with
/// <see cref="Result"/>) and the result to report when that write lands.
/// </summary>
public readonly record struct UpdateDecision<T>(byte[]? Write, T Result)
{
    /// <summary>Leave the object as it is and finish with <paramref name="result"/>.</summary>
    public static UpdateDecision<T> Keep(T result) => new(null, result);

    /// <summary>Replace the object (or create it) with <paramref name="content"/>, then finish with <paramref name="result"/>.</summary>
    public static UpdateDecision<T> Replace(byte[] content, T result) => new(content, result);
}

/// <summary>
/// The end of a read-modify-write. <see cref="Completed"/> is false when other writers won every attempt; then
/// <see cref="Result"/> is the last decision, which did not land. <see cref="ETag"/> is the written object's ETag
/// (null when nothing was written).
/// </summary>
public readonly record struct UpdateOutcome<T>(bool Completed, T Result, string? ETag, int Conflicts);

/// <summary>
/// The one read-modify-write over <see cref="IObjectStore"/>: read the object, decide, write it only if nobody changed
/// it in between (IfMatch its ETag, or IfNotExists when it was absent), and after a conflict read again and decide
/// again, after a short jittered backoff. Every compare-and-swap of small documents in storage goes through here.
/// </summary>
public static class ConditionalUpdate
{
    /// <summary>Attempts before giving up when other writers keep winning.</summary>
    public const int DefaultMaxAttempts = 40;

    /// <summary>
    /// Runs the read-modify-write on <paramref name="key"/>. <paramref name="decide"/> gets the object as stored now
    /// (null when absent) and the attempt number (1 first); it may do its own I/O (an audit record, a related read).
    /// <paramref name="onConflict"/> is told of each write that lost. <paramref name="durability"/> is the writes'
    /// (<see cref="WriteDurability.Cache"/> only for documents the caller can fetch again).
    /// </summary>
    public static async Task<UpdateOutcome<T>> UpdateAsync<T>(
        this IObjectStore store,
        string key,
        Func<CurrentObject?, int, CancellationToken, ValueTask<UpdateDecision<T>>> decide,
        CancellationToken cancellationToken,
        int maxAttempts = DefaultMaxAttempts,
        Action<int>? onConflict = null,
        WriteDurability durability = WriteDurability.Durable)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        for (var attempt = 1; ; attempt++)
        {
            var read = await store.ReadSmallOrNullAsync(key, cancellationToken);
            CurrentObject? current = read is { } r ? new CurrentObject(r.Content, r.ETag) : null;
            var decision = await decide(current, attempt, cancellationToken);
            if (decision.Write is null)
            {
                return new UpdateOutcome<T>(true, decision.Result, null, attempt - 1);
            }

            var condition = (current is { } existing ? WriteCondition.IfMatch(existing.ETag) : WriteCondition.IfNotExists) with { Durability = durability };
            var put = await store.PutAsync(key, decision.Write, condition, cancellationToken);
            if (put.Succeeded)
            {
                return new UpdateOutcome<T>(true, decision.Result, put.ETag, attempt - 1);
            }

            onConflict?.Invoke(attempt);
            if (attempt >= maxAttempts)
            {
                return new UpdateOutcome<T>(false, decision.Result, null, attempt);
            }

            await Task.Delay(Backoff(attempt), cancellationToken);
        }
    }

    /// <summary>The synchronous-decision form of <see cref="UpdateAsync{T}(IObjectStore, string, Func{CurrentObject?, int, CancellationToken, ValueTask{UpdateDecision{T}}}, CancellationToken, int, Action{int}?, WriteDurability)"/>.</summary>
    public static Task<UpdateOutcome<T>> UpdateAsync<T>(
        this IObjectStore store,
        string key,
        Func<CurrentObject?, UpdateDecision<T>> decide,
        CancellationToken cancellationToken,
        int maxAttempts = DefaultMaxAttempts,
        Action<int>? onConflict = null,
        WriteDurability durability = WriteDurability.Durable) =>
        store.UpdateAsync(key, (current, _, _) => ValueTask.FromResult(decide(current)), cancellationToken, maxAttempts, onConflict, durability);

    /// <summary>
    /// Full jitter over an exponentially growing window: up to 2 ms, 4 ms, ... capped at 100 ms. Contention is resolved
    /// in real time (a test's fake clock must not stall it), so this is a plain delay.
    /// </summary>
    public static TimeSpan Backoff(int attempt)
    {
        var window = Math.Min(100.0, 2.0 * Math.Pow(2, Math.Min(Math.Max(attempt, 1) - 1, 6)));
        return TimeSpan.FromMilliseconds(1 + (Random.Shared.NextDouble() * window));
    }
}
