namespace OrleansCrates.Operations.Statistics;

/// <summary>The <c>Statistics</c> section: how often each node writes its counters, and how long a merged view is reused.</summary>
public sealed class StatisticsOptions
{
    public const string SectionName = "Statistics";

    /// <summary>Count registry traffic per day (default on). Off: requests are not recorded at all (recent 5xx errors still are).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often each node writes what it counted since the last write (one create-only object per day touched).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a merged view of a day is reused before storage is listed again for new objects.</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>This node's name in object keys; default the host name, process id and a random suffix.</summary>
    public string? Node { get; set; }
}
