namespace OrleansCrates.Core.Coordination;

/// <summary>Configuration section <c>Cluster</c>: how nodes sharing one store divide work.</summary>
public sealed class ClusterOptions
{
    public const string SectionName = "Cluster";

    /// <summary>Lease length on Azure (15–60 s); a dead holder's work is taken over after this long.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a node waits for another node's fetch before answering 503 (cargo then retries).</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>While another node revalidates an index file, how long this node serves its copy before looking again.</summary>
    public TimeSpan StaleWhileOtherNodeRevalidates { get; set; } = TimeSpan.FromMilliseconds(500);
}
