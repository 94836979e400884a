using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCrates.Operations.Statistics;

namespace OrleansCrates.Server.Operations.Statistics;

/// <summary>
/// <c>GET /api/v1/stats?days=N&amp;top=M</c>: the cluster's traffic per UTC day (merged from every node's flushed
/// counters), totals, the most downloaded crates with their versions, toolchain traffic on its own, and — from this
/// node — recent errors and the number of pending approvals. What the dashboard draws.
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

    public static async Task<Ok<StatsResponse>> GetStats(HttpContext context, StatisticsReport report, int? days, int? top) =>
        TypedResults.Ok(await report.BuildAsync(days ?? DefaultDays, top ?? 10, context.RequestAborted));

    public sealed record StatsResponse(
        DateOnly From,
        DateOnly To,
        DateTimeOffset GeneratedAt,
        string Node,
        double FlushIntervalSeconds,
        IReadOnlyList<DayJson> Days,
        DayJson Totals,
        IReadOnlyList<TopCrate> TopCrates,
        ToolchainsJson Toolchains,
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

    /// <summary>Toolchain traffic (<c>/rustup</c>), apart from the crates': archive downloads and bytes, and the most downloaded archives.</summary>
    public sealed record ToolchainsJson(long Downloads, long Bytes, IReadOnlyList<TopArchive> TopArchives);

    /// <summary>A toolchain archive (its file name) and the release date it was published under.</summary>
    public sealed record TopArchive(string Archive, string Release, long Downloads, long Bytes);

    /// <summary><c>mode</c> is "on" or "off"; <c>pending</c> is null when off (or storage could not be read: <c>error</c>).</summary>
    public sealed record ApprovalsJson(string Mode, int? Pending, string? Error);
}
