using Orleans.Configuration;

namespace OrleansCrates.Grains;

/// <summary>Orleans settings this mirror's silos run with unless configured otherwise.</summary>
public static class ClusterDefaults
{
    /// <summary>
    /// Membership defaults that evict a killed or hung silo in about 10–15 s (Orleans' own take over a minute for a
    /// hung one): probes time out after 2–3 s, two missed probes make a suspicion, and the connection liveness check,
    /// which holds votes back for MaxProbeTimeout × NumMissedProbesLimit, is off. Each can be overridden under
    /// <c>Cluster:Membership</c> with Orleans' names.
    /// </summary>
    public static void ApplyMembershipDefaults(ClusterMembershipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ProbeTimeout = TimeSpan.FromSeconds(2);
        options.MaxProbeTimeout = TimeSpan.FromSeconds(3);
        options.NumMissedProbesLimit = 2;
        options.EnableConnectionLivenessCheck = false;
    }

    /// <summary>The crate grain's class name, as Orleans' <c>GrainCollectionOptions.ClassSpecificCollectionAge</c> knows it.</summary>
    public static string CrateGrainClass { get; } = typeof(CrateGrain).FullName!;
}
