using Orleans.Runtime;

namespace OrleansCrates.Grains;

/// <summary>
/// The front end's side of a grain call: a deadline of its own and calls made again when a silo died (or the answer
/// never came), reaching the grain's new activation after the dead silo is evicted, until the deadline; then an
/// unavailable outcome (503 with Retry-After), never a hang. Used by every service the web code reaches grains through.
/// </summary>
internal static class GrainCalls
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    /// <summary>Calls that failed in an unexpected way are made again at most this often (the work is idempotent; a bug is not retried for long).</summary>
    private const int MaxUnexpectedFailures = 3;

    /// <param name="call">One call, given its number (1 first: later ones may follow a call that landed unseen); null when the grain's silo is leaving (asked again, reaching the next activation).</param>
    /// <param name="deadline">How long the caller waits in all.</param>
    /// <param name="attemptTimeout">How long one call is waited for before it is made again.</param>
    /// <param name="unavailable">The outcome when the deadline passes, given why the last call failed.</param>
    /// <param name="failed">Told of each failed call (number, reason), for the log.</param>
    /// <param name="gaveUp">Told when the deadline passed (calls made, reason), for the log.</param>
    public static async Task<T> CallAsync<T>(
        Func<int, CancellationToken, Task<T?>> call,
        TimeSpan deadline,
        TimeSpan attemptTimeout,
        Func<string, T> unavailable,
        Action<int, string> failed,
        Action<int, string> gaveUp,
        CancellationToken cancellationToken)
        where T : class
    {
        using var overall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        overall.CancelAfter(deadline);
        var backoff = FirstBackoff;
        var attempts = 0;
        var unexpected = 0;
        var last = "no answer";
        while (true)
        {
            attempts++;
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(overall.Token);
            attempt.CancelAfter(attemptTimeout);
            try
            {
                if (await call(attempts, attempt.Token).WaitAsync(attempt.Token) is { } answer)
                {
                    return answer;
                }

                last = "the grain's silo is shutting down";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = $"no answer within {attemptTimeout.TotalSeconds:0} s";
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                // The silo holding the grain died or is unreachable: after it is evicted, the call reaches a new activation.
                last = $"{e.GetType().Name}: {e.Message}";
                failed(attempts, last);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && ++unexpected < MaxUnexpectedFailures)
            {
                // E.g. the owning silo shutting down under the work: the next call reaches an activation elsewhere.
                last = $"{e.GetType().Name}: {e.Message}";
                failed(attempts, last);
            }

            if (overall.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                gaveUp(attempts, last);
                return unavailable($"the cluster did not answer within {deadline.TotalSeconds:0} s ({last})");
            }

            try
            {
                await Task.Delay(backoff, overall.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }
}
