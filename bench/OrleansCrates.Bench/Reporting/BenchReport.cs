using OrleansCrates.Bench.Infrastructure;

namespace OrleansCrates.Bench.Reporting;

internal enum PhaseStatus
{
    Ok,
    Failed,
    Skipped,
}

internal sealed record PhaseOutcome(string Phase, PhaseStatus Status, string Detail);

/// <summary>One wrk side of a throughput row: figures, or why there are none.</summary>
internal sealed record WrkSide(WrkResult? Result, string? Error)
{
    public static WrkSide NotRun(string reason) => new(null, reason);
}

/// <summary>
/// One endpoint at one connection count: the mirror, nginx and a bare Kestrel serving the same bytes from memory
/// (<see cref="Infrastructure.KestrelBaseline"/>: what ASP.NET Core does on Kestrel's own sockets transport, which copies
/// every body through the process; the mirror's transport has the kernel send crate files, so it can beat that).
/// </summary>
internal sealed record ThroughputRow(string Endpoint, int Connections, double TargetRatio, WrkSide Mirror, WrkSide Nginx, WrkSide Kestrel)
{
    /// <summary>Mirror req/s over nginx req/s, only when both sides completed without errors.</summary>
    public double? Ratio => RatioOf(Mirror, Nginx);

    /// <summary>Bare Kestrel over nginx: where ASP.NET Core on Kestrel's own transport stands.</summary>
    public double? KestrelRatio => RatioOf(Kestrel, Nginx);

    /// <summary>Mirror over bare Kestrel: what the mirror's own work per request costs.</summary>
    public double? MirrorOfKestrel => RatioOf(Mirror, Kestrel);

    private static double? RatioOf(WrkSide side, WrkSide baseline) =>
        side.Result is { Errors: null } a && baseline.Result is { Errors: null } b && b.RequestsPerSecond > 0
            ? a.RequestsPerSecond / b.RequestsPerSecond
            : null;
}

/// <summary>The two sides of the cold cargo fetch comparison, as the report names them.</summary>
internal static class CargoSides
{
    /// <summary>The upstream latencies the cold fetch is timed with: what a CDN across the internet costs, and loopback.</summary>
    public static readonly TimeSpan[] UpstreamDelays = [TimeSpan.FromMilliseconds(20), TimeSpan.Zero];

    public static string Direct(TimeSpan delay) => $"direct from fake upstream ({Upstream(delay)})";

    public static string Mirror(TimeSpan delay) => $"through the mirror ({Upstream(delay)})";

    /// <summary>The same with <c>Mirror:PrefetchDependencyIndexes=true</c> (off by default); timed with the delayed upstream only.</summary>
    public static string MirrorWithPrefetch(TimeSpan delay) => $"through the mirror, dependency index prefetch on ({Upstream(delay)})";

    public static readonly KeyValuePair<string, string> PrefetchSetting = new("Mirror__PrefetchDependencyIndexes", "true");

    /// <summary>The sides timed for one upstream latency, in the order they run.</summary>
    public static IEnumerable<string> Sides(TimeSpan delay) =>
        delay > TimeSpan.Zero ? [Direct(delay), Mirror(delay), MirrorWithPrefetch(delay)] : [Direct(delay), Mirror(delay)];

    public static string Upstream(TimeSpan delay) => delay > TimeSpan.Zero ? $"upstream answers after {delay.TotalMilliseconds:0} ms" : "loopback upstream";
}

/// <summary>
/// One run of the feature-cost comparison: warm download req/s of a mirror with statistics, metrics, read access
/// control and a policy on, and of the same build with them off, back to back.
/// </summary>
internal sealed record FeatureRun(int Run, WrkSide On, WrkSide Off)
{
    public double? Ratio =>
        On.Result is { Errors: null } a && Off.Result is { Errors: null } b && b.RequestsPerSecond > 0
            ? a.RequestsPerSecond / b.RequestsPerSecond
            : null;
}

internal sealed record PeakRss(string Process, long? Bytes, string? Error);

/// <summary>One timed cold <c>cargo generate-lockfile</c> + <c>cargo fetch</c>.</summary>
internal sealed record CargoRun(string Side, int Run, TimeSpan? Elapsed, string? Error);

/// <summary>One 400 MB crate download through the mirror with its memory cost.</summary>
internal sealed record MemoryRow(string Download, long? RssBeforeBytes, long? PeakAfterBytes, TimeSpan? Elapsed, string? Problem)
{
    public long? DeltaBytes => RssBeforeBytes is { } before && PeakAfterBytes is { } after ? after - before : null;
}

/// <summary>
/// One build storm: <see cref="Clients"/> cold clients spread over <see cref="Nodes"/> nodes sharing one Azurite
/// container, each requesting the same <see cref="Files"/> files at once. <see cref="UpstreamPerFile"/> counts the
/// fake upstream's requests per file (each must be 1). <see cref="Problem"/> is set when the storm could not run.
/// </summary>
internal sealed record StormRow(
    int Nodes,
    int Clients,
    int Files,
    int Requests,
    int Failed,
    string? FirstFailure,
    TimeSpan? LatencyP50,
    TimeSpan? LatencyP99,
    TimeSpan Wall,
    long Bytes,
    IReadOnlyDictionary<string, int> UpstreamPerFile,
    string? Problem)
{
    public static StormRow NotRun(int nodes, int clients, int files, string problem) =>
        new(nodes, clients, files, 0, 0, null, null, null, TimeSpan.Zero, 0, new Dictionary<string, int>(), problem);

    public double? RequestsPerSecond => Requests > 0 && Wall > TimeSpan.Zero ? Requests / Wall.TotalSeconds : null;

    public double? MegabytesPerSecond => Requests > 0 && Wall > TimeSpan.Zero ? Bytes / (1024.0 * 1024.0) / Wall.TotalSeconds : null;

    /// <summary>Files whose upstream request count is not exactly 1, with their counts.</summary>
    public IReadOnlyList<KeyValuePair<string, int>> NotFetchedOnce => UpstreamPerFile.Where(f => f.Value != 1).ToList();

    /// <summary>True when every file was requested upstream exactly once (and the storm ran).</summary>
    public bool OncePerFile => Problem is null && UpstreamPerFile.Count > 0 && NotFetchedOnce.Count == 0;
}

/// <summary>Warm-hit wrk figures of one endpoint on one node with Azure Blob storage and one with filesystem storage.</summary>
internal sealed record StorageCompareRow(string Endpoint, int Connections, WrkSide Azure, WrkSide FileSystem)
{
    /// <summary>Azure req/s over filesystem req/s, only when both sides completed without errors.</summary>
    public double? Ratio =>
        Azure.Result is { Errors: null } a && FileSystem.Result is { Errors: null } f && f.RequestsPerSecond > 0
            ? a.RequestsPerSecond / f.RequestsPerSecond
            : null;
}

/// <summary>One figure of the Orleans cluster phases (grain call cost, takeover, activation memory): what, how much, how it was measured.</summary>
internal sealed record ClusterFigure(string Phase, string Figure, string Value, string Detail);

/// <summary>Everything the benchmark measured, in the order it was measured.</summary>
internal sealed class BenchReport
{
    public const double DownloadTarget = 0.8;
    public const double IndexTarget = 1.0;

    /// <summary>The mirror's default memory budgets (Mirror:IndexMemoryCacheBytes + Mirror:HotFileCacheBytes) plus 150 MB.</summary>
    public const long PeakRssTargetBytes = (64L + 256 + 150) * 1024 * 1024;
    public const double CargoTarget = 1.1;

    /// <summary>Features on over features off, median of the runs: within 10 %.</summary>
    public const double FeatureCostTarget = 0.9;
    public const long BigCrateDeltaTargetBytes = 32L * 1024 * 1024;
    public const double StorageCompareTarget = 0.8;

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public List<string> Environment { get; } = [];

    public List<PhaseOutcome> Phases { get; } = [];

    public List<string> Notes { get; } = [];

    public List<ThroughputRow> Throughput { get; } = [];

    public List<PeakRss> PeakRss { get; } = [];

    public List<CargoRun> CargoRuns { get; } = [];

    /// <summary>Per mirror run (in order), the methods .NET compiled in each warm-up round, e.g. "2310 → 410 → 12".</summary>
    public List<string> CargoWarmups { get; } = [];

    /// <summary>Upstream download requests per crate file, one count per mirror run.</summary>
    public SortedDictionary<string, List<long>> UpstreamDownloadsPerMirrorRun { get; } = new(StringComparer.Ordinal);

    public List<MemoryRow> Memory { get; } = [];

    public List<StormRow> Storm { get; } = [];

    public List<StorageCompareRow> StorageCompare { get; } = [];

    public List<ClusterFigure> Cluster { get; } = [];

    public List<FeatureRun> Features { get; } = [];

    /// <summary>Median features-on/off ratio over the runs; null when any run failed.</summary>
    public double? FeatureMedian =>
        Features.Count > 0 && Features.All(f => f.Ratio is not null) ? Median(Features.Select(f => f.Ratio!.Value).ToList()) : null;

    public void Figure(string phase, string figure, string value, string detail = "")
    {
        Cluster.Add(new ClusterFigure(phase, figure, value, detail));
        Console.WriteLine($"[bench]   {figure}: {value}{(detail.Length > 0 ? " (" + detail + ")" : string.Empty)}");
    }

    public bool AnyPhaseFailed => Phases.Any(p => p.Status == PhaseStatus.Failed);

    public void Ok(string phase, string detail = "") => Record(phase, PhaseStatus.Ok, detail);

    public void Fail(string phase, string detail) => Record(phase, PhaseStatus.Failed, detail);

    public void Skip(string phase, string detail) => Record(phase, PhaseStatus.Skipped, detail);

    public void Note(string note)
    {
        Notes.Add(note);
        Console.WriteLine($"[bench] note: {note}");
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Median wall-clock of the successful runs of one side; null when any run failed.</summary>
    public TimeSpan? CargoMedian(string side)
    {
        var runs = CargoRuns.Where(r => r.Side == side).ToList();
        if (runs.Count == 0 || runs.Any(r => r.Elapsed is null))
        {
            return null;
        }

        return TimeSpan.FromSeconds(Median(runs.Select(r => r.Elapsed!.Value.TotalSeconds).ToList()));
    }

    private void Record(string phase, PhaseStatus status, string detail)
    {
        Phases.Add(new PhaseOutcome(phase, status, detail));
        var text = status switch
        {
            PhaseStatus.Ok => "ok",
            PhaseStatus.Failed => "FAILED",
            _ => "skipped",
        };
        Console.WriteLine($"[bench] {phase}: {text}{(detail.Length > 0 ? " — " + detail : string.Empty)}");
    }
}
