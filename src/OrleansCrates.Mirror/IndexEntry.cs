using OrleansCrates.Protocol;

namespace OrleansCrates.Mirror;

/// <summary>
/// What a node holds in memory for one crate's index: either the file (as served, with its strong ETag and the
/// validators needed to revalidate upstream) or the fact that upstream does not have the crate.
/// </summary>
public sealed class IndexEntry
{
    private IndexEntry(StoredIndex? stored, DateTimeOffset nextCheckAt, string? upstreamError)
    {
        Stored = stored;
        NextCheckAt = nextCheckAt;
        UpstreamError = upstreamError;
        if (stored is not null)
        {
            // Strong ETag over the exact bytes served: equal bytes, equal tag, on every node.
            ETag = StrongETag.Of(stored.Body);
        }
    }

    public StoredIndex? Stored { get; }

    public bool Exists => Stored is not null;

    public string? ETag { get; }

    /// <summary>Until when this entry is used without asking storage or upstream again.</summary>
    public DateTimeOffset NextCheckAt { get; }

    /// <summary>Set when the last revalidation failed and this is a stale copy served meanwhile.</summary>
    public string? UpstreamError { get; }

    public long SizeInBytes => 256 + (Stored?.Body.Length ?? 0);

    public static IndexEntry Found(StoredIndex stored, DateTimeOffset nextCheckAt) => new(stored, nextCheckAt, null);

    public static IndexEntry NotFound(DateTimeOffset nextCheckAt) => new(null, nextCheckAt, null);

    public IndexEntry WithFailedRevalidation(DateTimeOffset retryAt, string error) => new(Stored, retryAt, error);

    public IndexLine? FindVersion(string version) => Stored is null ? null : IndexFile.FindVersion(Stored.Body, version);
}
