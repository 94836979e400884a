namespace OrleansCrates.Storage;

/// <summary>
/// Cluster-wide exclusive leases on keys, from the same storage every node shares: a blob lease on Azure, an OS file
/// lock on a shared filesystem. At most one holder per key at a time; a holder that dies loses its lease (at once for
/// file locks, when the blob lease expires on Azure) so another node can take over. A lease only says who should do
/// a piece of work; the work's own writes must still be create-only or ETag-conditional.
/// </summary>
public interface ILeaseProvider
{
    /// <summary>Takes the lease on <paramref name="key"/> now, or returns null if another holder has it.</summary>
    Task<ILease?> TryAcquireAsync(string key, CancellationToken cancellationToken);
}

/// <summary>A held lease, renewed in the background while held. Dispose to release it.</summary>
public interface ILease : IAsyncDisposable
{
    string Key { get; }
}
