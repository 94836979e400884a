using Azure.Storage.Blobs.Models;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// The user-delegation key that signs read URLs when storage is reached with Entra ID (no shared key). One key is
/// asked for (<see cref="KeyLifetime"/>, starting <see cref="ClockSkew"/> early) and reused for every URL whose expiry
/// it covers; a URL that would outlive it makes the next caller fetch a new one. Concurrent callers share one fetch,
/// which runs under no caller's cancellation; a failed fetch is not remembered, so the next caller tries again.
/// </summary>
internal sealed class UserDelegationKeyCache(
    Func<DateTimeOffset, DateTimeOffset, CancellationToken, Task<UserDelegationKey>> fetch,
    TimeProvider time)
{
    /// <summary>How long a fetched key is valid (the service allows up to seven days).</summary>
    public static readonly TimeSpan KeyLifetime = TimeSpan.FromHours(1);

    /// <summary>Keys and URLs start this much before now, so a storage clock slightly behind ours still accepts them.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private readonly Lock _gate = new();
    private Task<UserDelegationKey>? _current;

    /// <summary>Keys fetched so far (for tests and diagnostics).</summary>
    public int Fetches => Volatile.Read(ref _fetches);

    private int _fetches;

    /// <summary>A key valid at least until <paramref name="neededUntil"/>.</summary>
    public async Task<UserDelegationKey> GetAsync(DateTimeOffset neededUntil, CancellationToken cancellationToken)
    {
        Task<UserDelegationKey> flight;
        lock (_gate)
        {
            if (_current is null || _current.IsFaulted || _current.IsCanceled ||
                (_current.IsCompletedSuccessfully && _current.Result.SignedExpiresOn < neededUntil))
            {
                var now = time.GetUtcNow();
                Interlocked.Increment(ref _fetches);
                _current = fetch(now - ClockSkew, now + Max(KeyLifetime, neededUntil - now), CancellationToken.None);
            }

            flight = _current;
        }

        var key = await flight.WaitAsync(cancellationToken);
        if (key.SignedExpiresOn >= neededUntil)
        {
            return key;
        }

        // A fetch that started for a shorter need finished: ask again for ours.
        return await GetAsync(neededUntil, cancellationToken);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a >= b ? a : b;
}
