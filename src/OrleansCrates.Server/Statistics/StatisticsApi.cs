using Microsoft.Extensions.Options;
using OrleansCrates.Core.Statistics;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Statistics;

/// <summary>
/// <c>GET /api/v1/stats?days=N&amp;top=M</c>: the cluster's traffic per UTC day (merged from every node's flushed
/// counters), totals, the most downloaded crates with their versions, and — from this node — recent errors and the
/// number of pending approvals. What the dashboard draws.
/// </summary>
public static class StatisticsApi
{
    public const int DefaultDays = 14;
    public const int MaxDays = 366;

    public static IEndpointRouteBuilder MapStatisticsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/stats", GetStats);
        return app;
    }

    public static async Task<IResult> GetStats(
        HttpContext context,
        TrafficStatistics statistics,
        RecentErrors errors,
        PendingApprovalsCounter approvals,
        IOptions<PrivateRegistryOptions> privateOptions,
        TimeProvider time,
        int? days,
        int? top)
    {
        var span = Math.Clamp(days ?? DefaultDays, 1, MaxDays);
        var topCount = Math.Clamp(top ?? 10, 1, 1000);
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var from = today.AddDays(1 - span);
        var perDay = await statistics.GetDaysAsync(from, today, context.RequestAborted);

        var totals = new DayStatistics();
        foreach (var (_, day) in perDay)
        {
            totals.Merge(day);
        }

        // Where the private registry's reads need a token, its crate names stay off this public page.
        var hidePrivate = privateOptions.Value.ReadRequiresToken;
        var crates = totals.Crates
            .Where(c => !hidePrivate || c.Key.Registry != "private")
            .GroupBy(c => (c.Key.Registry, c.Key.Crate))
            .Select(g => new TopCrate(
                g.Key.Registry,
                g.Key.Crate,
                g.Sum(v => v.Value.Downloads),
                g.Sum(v => v.Value.Bytes),
                [.. g.OrderByDescending(v => v.Value.Downloads).ThenBy(v => v.Key.Version, StringComparer.Ordinal)
                    .Select(v => new TopVersion(v.Key.Version, v.Value.Downloads, v.Value.Bytes))]))
            .OrderByDescending(c => c.Downloads)
            .ThenBy(c => c.Crate, StringComparer.Ordinal)
            .Take(topCount)
            .ToList();

        int? pending;
        string? pendingError = null;
        try
        {
            pending = await approvals.CountOrNullAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is Storage.StorageUnavailableException or IOException)
        {
            pending = null;
            pendingError = RecentErrors.CauseOf(StatusCodes.Status503ServiceUnavailable, e, upstream: false); // never the exception's text
        }

        return TypedResults.Json(new StatsResponse(
            from,
            today,
            time.GetUtcNow(),
            statistics.Node,
            statistics.FlushInterval.TotalSeconds,
            [.. perDay.Select(d => DayJson.Of(d.Day, d.Statistics))],
            DayJson.Of(today, totals) with { Day = null },
            crates,
            new ApprovalsJson(approvals.ApprovalMode ? "on" : "off", pending, pendingError),
            errors.Snapshot()));
    }

    public sealed record StatsResponse(
        DateOnly From,
        DateOnly To,
        DateTimeOffset GeneratedAt,
        string Node,
        double FlushIntervalSeconds,
        IReadOnlyList<DayJson> Days,
        DayJson Totals,
        IReadOnlyList<TopCrate> TopCrates,
        ApprovalsJson Approvals,
        IReadOnlyList<RecentError> RecentErrors);

    public sealed record DayJson(
        DateOnly? Day,
        long Requests,
        long Bytes,
        long Hits,
        long Misses,
        long Stale,
        double? HitRatio,
        long Errors,
        long Downloads,
        long DownloadBytes,
        long UpstreamBytesSaved,
        int UniqueClients)
    {
        public static DayJson Of(DateOnly day, DayStatistics s) => new(
            day, s.Requests, s.Bytes, s.Hits, s.Misses, s.Stale, s.HitRatio is { } r ? Math.Round(r, 4) : null,
            s.Errors, s.Downloads, s.DownloadBytes, s.UpstreamBytesSaved, s.Clients.Count);
    }

    public sealed record TopCrate(string Registry, string Crate, long Downloads, long Bytes, IReadOnlyList<TopVersion> Versions);

    public sealed record TopVersion(string Version, long Downloads, long Bytes);

    /// <summary><c>mode</c> is "on" or "off"; <c>pending</c> is null when off (or storage could not be read: <c>error</c>).</summary>
    public sealed record ApprovalsJson(string Mode, int? Pending, string? Error);
}
