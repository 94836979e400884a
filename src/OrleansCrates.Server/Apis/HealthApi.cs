using Orleans.Runtime;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Server.Apis;

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health");
        health.MapMethods("/live", MirrorApi.GetAndHead, Live);
        health.MapMethods("/ready", MirrorApi.GetAndHead, Ready);
        return app;
    }

    /// <summary>The process is up and answering.</summary>
    public static IResult Live() => TypedResults.Text("live\n", "text/plain");

    /// <summary>
    /// Storage can be read: this node can serve correct data. 503 otherwise. Whether storage takes writes (a probe now,
    /// and the writes requests attempted) is listed, for information: a full disk stops new files, not the serving of
    /// held ones, so it does not take the node out of rotation. Each upstream's state on this node is listed too, for
    /// information only: an air-gapped node with a warm store is ready. Asks no upstream. So is how many active silos
    /// this node's view of the cluster's membership holds (<c>activeSilos</c>; itself included).
    /// </summary>
    public static async Task<IResult> Ready(IObjectStore store, UpstreamSet upstreams, StorageWriteHealth writes, IClusterMembershipService membership, CancellationToken cancellationToken)
    {
        var storage = await store.CheckHealthAsync(cancellationToken);
        var written = writes.Snapshot();
        var body = new
        {
            status = storage.Healthy ? "ready" : "unavailable",
            activeSilos = membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active),
            storage = new
            {
                storage.Provider,
                storage.Healthy,
                storage.Detail,
                storage.Writable,
                storage.WriteDetail,
                written.LastWriteSucceeded,
                WriteFailures = written.Failures,
                LastWriteError = written.LastError,
                LastWriteErrorAt = written.LastErrorAt,
            },
            upstreams = upstreams.Status().Select(u => new
            {
                name = u.Name,
                indexUrl = u.IndexUrl.ToString(),
                state = u.Health.State switch
                {
                    UpstreamState.Up => "up",
                    UpstreamState.Down => "down",
                    _ => "unknown",
                },
                lastError = u.Health.LastError,
                lastErrorAt = u.Health.LastErrorAt,
                latencyMs = Milliseconds(u.Health.Latency),
                smoothedLatencyMs = Milliseconds(u.Health.SmoothedLatency),
                cooldownUntil = u.Health.CooldownUntil,
            }),
        };
        return storage.Healthy ? TypedResults.Json(body) : TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static double? Milliseconds(TimeSpan? value) => value is { } v ? Math.Round(v.TotalMilliseconds, 1) : null;
}
