namespace OrleansCrates.Operations;

/// <summary>
/// Where an answer came from, for metrics and traffic statistics. Shared vocabulary of the mirror, its telemetry and its
/// statistics, so none of them depends on another for it.
/// </summary>
public enum CacheOutcome
{
    /// <summary>From this node's memory or storage, without waiting on upstream.</summary>
    Hit,

    /// <summary>This request waited for the cache to be filled (from storage or upstream).</summary>
    Miss,

    /// <summary>A copy older than its TTL, served because upstream failed or another request is revalidating.</summary>
    Stale,
}
