using OrleansCrates.Core.Telemetry;

namespace OrleansCrates.Server.Apis;

/// <summary><c>GET /metrics</c>: this node's metrics in the Prometheus text format (cumulative since the node started).</summary>
public static class MetricsApi
{
    public const string Route = "/metrics";

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Route, GetMetrics);
        return app;
    }

    public static IResult GetMetrics(MetricsCollector collector) =>
        TypedResults.Text(PrometheusText.Format(collector.Collect()), PrometheusText.ContentType);
}
