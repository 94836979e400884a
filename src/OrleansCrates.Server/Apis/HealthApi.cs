using OrleansCrates.Storage;

namespace OrleansCrates.Server.Apis;

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health");
        health.MapGet("/live", Live);
        health.MapGet("/ready", Ready);
        return app;
    }

    /// <summary>The process is up and answering.</summary>
    public static IResult Live() => TypedResults.Text("live\n", "text/plain");

    /// <summary>Storage can be reached: this node can serve correct data. 503 otherwise.</summary>
    public static async Task<IResult> Ready(IObjectStore store, CancellationToken cancellationToken)
    {
        var storage = await store.CheckHealthAsync(cancellationToken);
        var body = new { status = storage.Healthy ? "ready" : "unavailable", storage = new { storage.Provider, storage.Healthy, storage.Detail } };
        return storage.Healthy ? TypedResults.Json(body) : TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
