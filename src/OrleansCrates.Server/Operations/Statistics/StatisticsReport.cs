using Microsoft.Extensions.Options;
using OrleansCrates.Operations.Statistics;
using OrleansCrates.Registry;
using static OrleansCrates.Server.Operations.Statistics.StatisticsApi;

namespace OrleansCrates.Server.Operations.Statistics;

/// <summary>
/// What <c>/api/v1/stats</c> shows, put together: the cluster's days (merged from every node's flushed counters), their
/// totals, the most downloaded crates with their versions (private names left out where the private registry's reads
/// need a token), and from this node the recent errors and the number of pending approvals.
/// </summary>
public sealed class StatisticsReport(
    TrafficStatistics statistics,
    RecentErrors errors,
    PendingApprovalsCounter approvals,
    IOptions<PrivateRegistryOptions> privateOptions,
    TimeProvider time)
{
    /// <summary>The registry toolchain traffic is recorded under (<see cref="TrafficRecordingMiddleware"/>).</summary>
    public const string ToolchainRegistry = "toolchains";

    /// <summary><paramref name="days"/> is clamped to 1–<see cref="StatisticsApi.MaxDays"/>, <paramref name="top"/> to 1–1000.</summary>
    public async Task<StatsResponse> BuildAsync(int days, int top, CancellationToken cancellationToken)
    {
        var span = Math.Clamp(days, 1, MaxDays);
        var topCount = Math.Clamp(top, 1, 1000);
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var from = today.AddDays(1 - span);
        var perDay = await statistics.GetDaysAsync(from, today, cancellationToken);

        var totals = new DayStatistics();
        foreach (var (_, day) in perDay)
        {
            totals.Merge(day);
        }

        // Where the private registry's reads need a token, its crate names stay off this public page.
        var hidePrivate = privateOptions.Value.ReadRequiresToken;
        var crates = totals.Crates
            .Where(c => c.Key.Registry != ToolchainRegistry && (!hidePrivate || c.Key.Registry != "private"))
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

        // Toolchain archives are counted as registry "toolchains" (file name, release date): shown apart from the crates.
        var archives = totals.Crates.Where(c => c.Key.Registry == ToolchainRegistry).ToList();
        var toolchains = new ToolchainsJson(
            archives.Sum(a => a.Value.Downloads),
            archives.Sum(a => a.Value.Bytes),
            [.. archives
                .OrderByDescending(a => a.Value.Downloads)
                .ThenBy(a => a.Key.Crate, StringComparer.Ordinal)
                .Take(topCount)
                .Select(a => new TopArchive(a.Key.Crate, a.Key.Version, a.Value.Downloads, a.Value.Bytes))]);

        int? pending;
        string? pendingError = null;
        try
        {
            pending = await approvals.CountOrNullAsync(cancellationToken);
        }
        catch (Exception e) when (e is Storage.StorageUnavailableException or IOException)
        {
            pending = null;
            pendingError = RecentErrors.CauseOf(StatusCodes.Status503ServiceUnavailable, e, upstream: false); // never the exception's text
        }

        return new StatsResponse(
            from,
            today,
            time.GetUtcNow(),
            statistics.Node,
            statistics.FlushInterval.TotalSeconds,
            [.. perDay.Select(d => DayJson.Of(d.Day, d.Statistics))],
            DayJson.Of(today, totals) with { Day = null },
            crates,
            toolchains,
            new ApprovalsJson(approvals.ApprovalMode ? "on" : "off", pending, pendingError),
            errors.Snapshot());
    }
}
