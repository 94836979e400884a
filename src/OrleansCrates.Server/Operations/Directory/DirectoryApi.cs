using Microsoft.AspNetCore.Http.HttpResults;

namespace OrleansCrates.Server.Operations.Directory;

/// <summary><c>GET /mirrors.json</c>: the community mirror directory, each mirror with this node's last health check.</summary>
public static class DirectoryApi
{
    public static IEndpointRouteBuilder MapDirectoryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/mirrors.json", ListMirrors);
        return app;
    }

    public static async Task<Ok<MirrorsResponse>> ListMirrors(MirrorDirectory directory, TimeProvider time, CancellationToken cancellationToken)
    {
        var mirrors = await directory.ListAsync(cancellationToken);
        return TypedResults.Ok(new MirrorsResponse(time.GetUtcNow(), directory.Options.CheckInterval.TotalSeconds, mirrors));
    }

    public sealed record MirrorsResponse(DateTimeOffset GeneratedAt, double CheckIntervalSeconds, IReadOnlyList<DirectoryEntry> Mirrors);
}
