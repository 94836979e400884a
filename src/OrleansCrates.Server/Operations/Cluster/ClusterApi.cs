using Microsoft.AspNetCore.Http.HttpResults;

namespace OrleansCrates.Server.Operations.Cluster;

/// <summary><c>GET /api/v1/cluster</c>: the Orleans cluster as the dashboard shows it (<see cref="ClusterQuery"/>).</summary>
public static class ClusterApi
{
    public static IEndpointRouteBuilder MapClusterApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/cluster", Get);
        return app;
    }

    public static async Task<Ok<ClusterView>> Get(ClusterQuery cluster) => TypedResults.Ok(await cluster.GetAsync());
}
