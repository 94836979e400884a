using OrleansCrates.Mirror.Coordination;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Protocol;

namespace OrleansCrates.Mirror;

/// <summary>
/// Everything one crate's owner keeps and decides: its index entry (revalidated upstream by one flight at a time, with
/// the copy served to everyone else meanwhile) and one flight per version being fetched. The cluster runs one of these
/// per crate inside the crate's grain; the work itself (storage, upstreams, verification) is
/// <see cref="CrateCoordinator"/>'s. Thread-safe, so it does not depend on the grain's scheduler.
/// </summary>
public sealed class CrateOwner(CrateName name, CrateCoordinator coordinator, TimeProvider time)
{
    /// <summary>While this owner revalidates, others get its copy and ask again after this long.</summary>
    internal static readonly TimeSpan StaleWhileRevalidating = TimeSpan.FromMilliseconds(500);

    private readonly SingleFlight<bool, IndexRefresh> _indexFlight = new(OrleansCratesTracing.Source, OrleansCratesTracing.OwnerIndexRefresh);
    private readonly SingleFlight<string, FetchOutcome> _fileFlights = new(OrleansCratesTracing.Source, OrleansCratesTracing.OwnerCrateFileFetch);
    private volatile IndexEntry? _entry;

    public CrateName Name => name;

    /// <summary>Versions being fetched right now.</summary>
    public int FetchesInFlight => _fileFlights.InFlightCount;

    /// <summary>
    /// The index entry, refreshed (storage first, then upstream) when its check time has passed or, with
    /// <paramref name="maxAge"/>, when it was fetched longer ago than that.
    /// </summary>
    public async Task<IndexRefresh> GetIndexAsync(TimeSpan? maxAge)
    {
        var now = time.GetUtcNow();
        var entry = _entry;
        if (entry is not null && now < entry.NextCheckAt && (maxAge is null || !entry.Exists || now - entry.Stored!.FetchedAt < maxAge))
        {
            return new IndexRefresh(entry, null, null);
        }

        var (flight, started) = _indexFlight.Join(true, () => RefreshAsync(entry, maxAge));
        if (!started && maxAge is null && entry is { Exists: true })
        {
            // Being revalidated: serve the copy meanwhile (stale), and have the caller ask again shortly.
            return new IndexRefresh(IndexEntry.Found(entry.Stored!, now + StaleWhileRevalidating), null, null);
        }

        return await flight;
    }

    /// <summary>Gets one version's file into storage, once however many callers ask at the same time.</summary>
    public Task<FetchOutcome> EnsureStoredAsync(string version) =>
        _fileFlights.Join(version, () => coordinator.EnsureStoredAsOwnerAsync(name, version, GetIndexAsync)).Task;

    /// <summary>
    /// Where the download of one version's file runs (this node's spool), as soon as its bytes arrive: joins the flight
    /// in progress or starts one; null when the flight is over first (the file is stored, or failed).
    /// </summary>
    public Task<Streaming.SpoolLocation?> LocateDownloadAsync(string version, CancellationToken cancellationToken) =>
        coordinator.LocateDownloadAsOwnerAsync(name, version, EnsureStoredAsync(version), cancellationToken);

    private async Task<IndexRefresh> RefreshAsync(IndexEntry? entry, TimeSpan? maxAge)
    {
        var refresh = await coordinator.RefreshIndexAsOwnerAsync(name, entry, maxAge);
        if (refresh.Entry is not null)
        {
            _entry = refresh.Entry;
        }

        return refresh;
    }
}
