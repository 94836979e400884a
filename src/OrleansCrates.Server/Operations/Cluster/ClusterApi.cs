using Orleans.Runtime;

namespace OrleansCrates.Server.Operations.Cluster;

/// <summary>The Orleans cluster as the dashboard shows it: its active silos and how many crate grains each holds.</summary>
public static class ClusterApi
{
    private const string CrateGrainType = "OrleansCrates.Grains.CrateGrain";

    public static IEndpointRouteBuilder MapClusterApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/cluster", Get);
        return app;
    }

    /// <summary>One management call for the hosts and one for the activation counts; never on a cargo request's path.</summary>
    public static async Task<IResult> Get(IGrainFactory grains, ILocalSiloDetails local)
    {
        var management = grains.GetGrain<IManagementGrain>(0);
        var hosts = await management.GetDetailedHosts(onlyActive: true);
        var statistics = await management.GetSimpleGrainStatistics();
        var crates = statistics
            .Where(s => s.GrainType.Contains(CrateGrainType, StringComparison.Ordinal))
            .GroupBy(s => s.SiloAddress)
            .ToDictionary(g => g.Key, g => g.Sum(s => s.ActivationCount));
        var silos = hosts
            .OrderBy(h => h.SiloAddress.ToParsableString(), StringComparer.Ordinal)
            .Select(h => new
            {
                address = h.SiloAddress.ToParsableString(),
                name = h.SiloName,
                status = h.Status.ToString(),
                startedAt = h.StartTime,
                crateActivations = crates.GetValueOrDefault(h.SiloAddress),
                self = h.SiloAddress.Equals(local.SiloAddress),
            })
            .ToList();
        return TypedResults.Json(new { activeSilos = silos.Count, crateActivations = silos.Sum(s => s.crateActivations), silos });
    }
}
