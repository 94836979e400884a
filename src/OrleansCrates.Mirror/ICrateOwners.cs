using OrleansCrates.Protocol;

namespace OrleansCrates.Mirror;

/// <summary>
/// Where a crate's cold work goes: the one owner of each crate for the whole cluster (its grain on a server), which
/// revalidates the crate's index upstream and downloads its files, once, however many nodes ask. Implementations key
/// owners by the crate's lower-case name. Calls never throw for expected outcomes: an owner that cannot be reached in
/// time is an unavailable outcome (503 with Retry-After), never a hang.
/// </summary>
public interface ICrateOwners
{
    /// <summary>
    /// The owner's index entry for the crate, revalidated upstream if it is older than <paramref name="maxAge"/>
    /// (null: when the entry's own check time has passed). While the owner revalidates, a caller gets its copy.
    /// </summary>
    Task<IndexRefresh> RefreshIndexAsync(CrateName name, TimeSpan? maxAge, CancellationToken cancellationToken);

    /// <summary>Makes sure one version's file is in storage, downloading and verifying it if it is not.</summary>
    Task<FetchOutcome> EnsureStoredAsync(CrateName name, string version, CancellationToken cancellationToken);

    /// <summary>
    /// Where the download of one version's file can be followed while it runs (starting it if none is running), as
    /// soon as its bytes arrive; null when it is over first (stored, or failed). Only the location travels: the bytes
    /// are read from the downloading node's spool.
    /// </summary>
    Task<Streaming.SpoolLocation?> LocateDownloadAsync(CrateName name, string version, CancellationToken cancellationToken);
}

/// <summary>
/// Owners in this process only, for a process without a silo (the CLI's <c>prefetch</c>, logic tests): single-flight
/// holds per process. The server uses the cluster's grains instead.
/// </summary>
public sealed class LocalCrateOwners(CrateCoordinator coordinator, TimeProvider time) : ICrateOwners
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, CrateOwner> _owners = new(StringComparer.Ordinal);

    public Task<IndexRefresh> RefreshIndexAsync(CrateName name, TimeSpan? maxAge, CancellationToken cancellationToken) =>
        Owner(name).GetIndexAsync(maxAge).WaitAsync(cancellationToken);

    public Task<FetchOutcome> EnsureStoredAsync(CrateName name, string version, CancellationToken cancellationToken) =>
        Owner(name).EnsureStoredAsync(version).WaitAsync(cancellationToken);

    public Task<Streaming.SpoolLocation?> LocateDownloadAsync(CrateName name, string version, CancellationToken cancellationToken) =>
        Owner(name).LocateDownloadAsync(version, cancellationToken);

    private CrateOwner Owner(CrateName name) => _owners.GetOrAdd(name.Lower, _ => new CrateOwner(name, coordinator, time));
}
