namespace OrleansCrates.Operations.Statistics;

/// <summary>What kind of registry request a <see cref="TrafficEvent"/> was.</summary>
public enum TrafficKind
{
    /// <summary>An index file (or <c>config.json</c>).</summary>
    Index,

    /// <summary>A crate file download.</summary>
    Download,
}

/// <summary>
/// One answered registry request. <paramref name="Client"/> is the raw identity (<c>token:{id}</c> or <c>ip:{address}</c>),
/// held only in memory: it is hashed with the deployment's salt before anything is written. <paramref name="Outcome"/> is
/// null for answers that did not involve the mirror's cache (the private registry, refusals, errors).
/// </summary>
public readonly record struct TrafficEvent(
    DateTimeOffset At,
    TrafficKind Kind,
    string Registry,
    string? Crate,
    string? Version,
    int Status,
    long Bytes,
    CacheOutcome? Outcome,
    string? Client);
