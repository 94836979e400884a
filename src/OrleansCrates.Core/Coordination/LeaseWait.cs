using OrleansCrates.Storage;

namespace OrleansCrates.Core.Coordination;

/// <summary>
/// The cluster half of "fetch once": take the lease on a key and do the work, or, while another node holds it, wait
/// (with backoff, bounded) until its result shows up in storage — or its lease frees because it died, in which case
/// this node takes over.
/// </summary>
public static class LeaseWait
{
    public static async Task<TResult> RunOnceAsync<TResult>(
        ILeaseProvider leases,
        string leaseKey,
        Func<CancellationToken, Task<TResult?>> resultInStorage,
        Func<CancellationToken, Task<TResult>> work,
        Func<TResult> timedOut,
        TimeSpan waitTimeout,
        TimeProvider time,
        CancellationToken cancellationToken)
        where TResult : class
    {
        var started = time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var done = await resultInStorage(cancellationToken);
            if (done is not null)
            {
                return done;
            }

            await using (var lease = await leases.TryAcquireAsync(leaseKey, cancellationToken))
            {
                if (lease is not null)
                {
                    // Look again under the lease: the previous holder may have finished just before releasing.
                    return await resultInStorage(cancellationToken) ?? await work(cancellationToken);
                }
            }

            if (time.GetElapsedTime(started) >= waitTimeout)
            {
                return timedOut();
            }

            await Task.Delay(delay, time, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }
}
