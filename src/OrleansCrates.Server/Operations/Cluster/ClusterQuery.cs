using Orleans.Runtime;

namespace OrleansCrates.Server.Operations.Cluster;

/// <summary>
/// The Orleans cluster as the dashboard shows it: its active silos, in address order, and how many crate grains each
/// holds. One management call for the hosts and one for the activation counts; never on a cargo request's path.
/// </summary>
public sealed class ClusterQuery(IGrainFactory grains, ILocalSiloDetails local)
{
    private const string CrateGrainType = "OrleansCrates.Grains.CrateGrain";

    public async Task<ClusterView> GetAsync()
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var hosts = await management.GetDetailedHosts(onlyActive: true);
        var statistics = await management.GetSimpleGrainStatistics();
        return Summarize(hosts, statistics, local.SiloAddress);
    }

    /// <summary>Each host with the crate grain activations counted on it (summed over the statistics' entries for that silo).</summary>
    public static ClusterView Summarize(IEnumerable<MembershipEntry> hosts, IEnumerable<SimpleGrainStatistic> statistics, SiloAddress self)
    {
        var crates = statistics
            .Where(s => s.GrainType.Contains(CrateGrainType, StringComparison.Ordinal))
            .GroupBy(s => s.SiloAddress)
            .ToDictionary(g => g.Key, g => g.Sum(s => s.ActivationCount));
        var silos = hosts
            .OrderBy(h => h.SiloAddress.ToParsableString(), StringComparer.Ordinal)
            .Select(h => new SiloView(
                h.SiloAddress.ToParsableString(),
                h.SiloName,
                h.Status.ToString(),
                h.StartTime,
                crates.GetValueOrDefault(h.SiloAddress),
                h.SiloAddress.Equals(self)))
            .ToList();
        return new ClusterView(silos.Count, silos.Sum(s => s.CrateActivations), silos);
    }
}

/// <summary>The body of <c>GET /api/v1/cluster</c> (camelCase JSON: <c>activeSilos</c>, <c>crateActivations</c>, <c>silos</c>).</summary>
public sealed record ClusterView(int ActiveSilos, int CrateActivations, IReadOnlyList<SiloView> Silos);

/// <summary>One active silo: <c>address</c>, <c>name</c>, <c>status</c>, <c>startedAt</c>, <c>crateActivations</c>, and whether it is the one answering (<c>self</c>).</summary>
public sealed record SiloView(string Address, string Name, string Status, DateTime StartedAt, int CrateActivations, bool Self);
