using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Server.Apis;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Server.Operations.Health;

/// <summary>
/// <c>/health/live</c> (the process is up and answering: runs no check) and <c>/health/ready</c> (the
/// <see cref="HealthChecks"/>: 200 while storage can be read, 503 otherwise), GET and HEAD. The ready body is the JSON
/// it has always been: <c>status</c> (ready, unavailable), <c>activeSilos</c>, <c>storage</c> (provider, healthy,
/// detail, writable, writeDetail, and the writes requests attempted: lastWriteSucceeded, writeFailures,
/// lastWriteError, lastWriteErrorAt) and <c>upstreams</c> (each one's state on this node, for information only).
/// </summary>
public static class HealthApi
{
    private static readonly byte[] LiveBody = "live\n"u8.ToArray();

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteLive, AllowCachingResponses = true })
            .WithMetadata(new HttpMethodMetadata(MirrorApi.GetAndHead));
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
            {
                Predicate = check => check.Tags.Contains(HealthChecks.ReadyTag),
                ResponseWriter = WriteReady,
                AllowCachingResponses = true, // as before: no cache headers of the middleware's own
            })
            .WithMetadata(new HttpMethodMetadata(MirrorApi.GetAndHead));
        app.MapGet("/health/settled", SettledAsync);
        return app;
    }

    /// <summary>The longest <c>/health/settled</c> waits, whatever it is asked.</summary>
    public static readonly TimeSpan MaxSettleWait = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>/health/settled?timeout=S</c> (default 10 s, at most 30): waits until no crate fetch and no write of one is in
    /// flight on this node — answers go out before their index documents are stored and while a verified crate file
    /// commits — then 200 <c>settled</c>; 503 when that did not happen in time. For scripts that read storage after
    /// traffic (a backup, a test) and for an operator before a planned stop; the readiness probe never waits.
    /// </summary>
    private static async Task<IResult> SettledAsync(HttpContext context, CrateCoordinator coordinator, double? timeout)
    {
        if (timeout is { } seconds && (!double.IsFinite(seconds) || seconds < 0 || seconds > MaxSettleWait.TotalSeconds))
        {
            return PlainText.BadRequest($"timeout must be 0 to {MaxSettleWait.TotalSeconds:0} seconds");
        }

        return await coordinator.WhenDrainedAsync(TimeSpan.FromSeconds(timeout ?? 10), context.RequestAborted)
            ? PlainText.Status(StatusCodes.Status200OK, "settled")
            : PlainText.Unavailable($"{coordinator.UpstreamWorkInFlight} fetches or writes still in flight", TimeSpan.FromSeconds(1));
    }

    private static Task WriteLive(HttpContext context, HealthReport report) => Write(context, "text/plain", LiveBody);

    private static Task WriteReady(HttpContext context, HealthReport report)
    {
        var storage = Data<StorageHealth>(report, HealthChecks.Storage) ?? new StorageHealth(false, "storage", Error(report, HealthChecks.Storage));
        var written = Data<StorageWriteSnapshot>(report, HealthChecks.Storage) ?? new StorageWriteSnapshot(true, 0, null, null);
        var body = new
        {
            status = report.Status == HealthStatus.Unhealthy ? "unavailable" : "ready",
            activeSilos = report.Entries.TryGetValue(HealthChecks.Cluster, out var cluster) &&
                          cluster.Data.TryGetValue(HealthChecks.ClusterCheck.ActiveSilos, out var silos) ? (int)silos : 0,
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
            upstreams = (Data<IReadOnlyList<UpstreamStatus>>(report, HealthChecks.Upstreams) ?? []).Select(u => new
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
        var json = context.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        return Write(context, "application/json; charset=utf-8", JsonSerializer.SerializeToUtf8Bytes(body, json));
    }

    /// <summary>The whole body at once, with its length, so HEAD answers with GET's headers.</summary>
    private static Task Write(HttpContext context, string contentType, byte[] body)
    {
        context.Response.ContentType = contentType;
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    /// <summary>A check's typed value, stored in its data under the type's name (or under the check's name).</summary>
    private static T? Data<T>(HealthReport report, string check)
        where T : class
    {
        if (!report.Entries.TryGetValue(check, out var entry))
        {
            return null;
        }

        foreach (var value in entry.Data.Values)
        {
            if (value is T typed)
            {
                return typed;
            }
        }

        return null;
    }

    /// <summary>Why a check found nothing to say (it threw or timed out).</summary>
    private static string Error(HealthReport report, string check) =>
        report.Entries.TryGetValue(check, out var entry) ? entry.Exception?.Message ?? entry.Description ?? "unknown" : "not checked";

    private static double? Milliseconds(TimeSpan? value) => value is { } v ? Math.Round(v.TotalMilliseconds, 1) : null;
}
