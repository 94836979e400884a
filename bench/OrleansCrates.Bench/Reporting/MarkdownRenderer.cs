using System.Globalization;
using System.Text;
using OrleansCrates.Bench.Infrastructure;

namespace OrleansCrates.Bench.Reporting;

/// <summary>Renders a <see cref="BenchReport"/> as Markdown (printed to stdout and written to bench/out).</summary>
internal static class MarkdownRenderer
{
    private const string Pass = "PASS";
    private const string Miss = "**MISS**";
    private const string NotAvailable = "n/a";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Render(BenchReport report, BenchOptions options, TimeSpan elapsed)
    {
        var md = new StringBuilder();
        md.Append(Invariant, $"# OrleansCrates benchmark — {report.StartedAt:yyyy-MM-dd HH:mm:ss}Z\n\n");
        md.Append(Invariant, $"Took {elapsed.TotalMinutes:0.0} min. One run on a small, noisy machine: the ratios are from a single run each, not averages.\n\n");
        foreach (var line in report.Environment)
        {
            md.Append("- ").Append(line).Append('\n');
        }

        md.Append(Invariant, $"- load average (1/5/15 min) at end: {Preflight.LoadAverage()}\n");
        md.Append(Invariant, $"- cores: {options.Pinning.Describe()} in the wrk phases\n");
        md.Append(Invariant, $"- options: wrk -t{(options.Pinning.Enabled ? options.Pinning.ClientCores : 2)}, {options.DurationSeconds} s per run, connections {string.Join(",", options.Connections)}; {options.CargoRuns} cold cargo runs per side; " +
            $"build storm {options.StormClients} clients × {options.StormCrates} crate files (+ their index files) on {string.Join(",", options.StormNodes)} node(s)\n\n");

        RenderSummary(md, report);
        RenderPhases(md, report);
        RenderThroughput(md, report, options);
        RenderPeakRss(md, report);
        RenderCargo(md, report);
        RenderMemory(md, report);
        RenderStorm(md, report);
        RenderStorageCompare(md, report, options);
        RenderCluster(md, report);
        if (report.Notes.Count > 0)
        {
            md.Append("## Notes\n\n");
            foreach (var note in report.Notes)
            {
                md.Append("- ").Append(note).Append('\n');
            }

            md.Append('\n');
        }

        return md.ToString();
    }

    private static void RenderCluster(StringBuilder md, BenchReport report)
    {
        if (report.Cluster.Count == 0)
        {
            return;
        }

        md.Append("## Orleans cluster figures\n\n| Phase | Figure | Value | How |\n|---|---|---|---|\n");
        foreach (var figure in report.Cluster)
        {
            md.Append(Invariant, $"| {figure.Phase} | {figure.Figure} | {figure.Value} | {figure.Detail.Replace("|", "/", StringComparison.Ordinal)} |\n");
        }

        md.Append('\n');
    }

    private static void RenderSummary(StringBuilder md, BenchReport report)
    {
        md.Append(Invariant, $"## Summary (one run; absolute figures are this machine's, load average {Preflight.LoadAverage()} at the end)\n\n");
        md.Append("| Check | Ratio | Absolute (this machine) | Target | Result |\n|---|---|---|---|---|\n");
        foreach (var row in report.Throughput)
        {
            var absolute = row.Mirror.Result is { } m && row.Nginx.Result is { } n
                ? $"{m.RequestsPerSecond:#,0} vs nginx {n.RequestsPerSecond:#,0} req/s"
                : NotAvailable;
            md.Append(Invariant, $"| Warm {row.Endpoint}, {row.Connections} connections, mirror/nginx | {(row.Ratio is { } r ? $"{r:0.00}×" : $"{NotAvailable} (errors)")} | {absolute} | ≥ {row.TargetRatio:0.0#}× | {(row.Ratio is { } rr ? Verdict(rr >= row.TargetRatio) : NotAvailable)} |\n");
        }

        foreach (var row in report.Throughput)
        {
            if (row.Kestrel.Result is { } k && row.Nginx.Result is { } n)
            {
                md.Append(Invariant, $"| Warm {row.Endpoint}, {row.Connections} connections, bare Kestrel/nginx (Kestrel's own transport, bodies copied); mirror/bare Kestrel | {Ratio(row.KestrelRatio)}; {Ratio(row.MirrorOfKestrel)} | {k.RequestsPerSecond:#,0} vs nginx {n.RequestsPerSecond:#,0} req/s | (reported) | - |\n");
            }
        }

        if (report.Features.Count > 0)
        {
            var median = report.FeatureMedian;
            var runs = string.Join(", ", report.Features.Select(f => f.Ratio is { } r ? $"{r:0.00}×" : NotAvailable));
            var absolute = string.Join("; ", report.Features.Select(f => $"{Rate(f.On)} vs {Rate(f.Off)}"));
            md.Append(Invariant, $"| Warm download, features on/off (statistics, metrics, read tokens, policy), median of {report.Features.Count} (runs {runs}) | {(median is { } fm ? $"{fm:0.00}×" : NotAvailable)} | {absolute} req/s | ≥ {BenchReport.FeatureCostTarget:0.0#}× | {(median is { } x ? Verdict(x >= BenchReport.FeatureCostTarget) : NotAvailable)} |\n");
        }

        foreach (var peak in report.PeakRss.Where(p => p.Process.StartsWith("throughput", StringComparison.Ordinal)))
        {
            md.Append(Invariant, $"| Mirror peak RSS (VmHWM), {peak.Process} | {(peak.Bytes is { } pb ? $"{(double)pb / BenchReport.PeakRssTargetBytes:0.00}× of the target" : NotAvailable)} | {(peak.Bytes is { } b ? Mb(b) : NotAvailable)} | < {Mb(BenchReport.PeakRssTargetBytes)} (cache budgets + 150 MB) | {(peak.Bytes is { } bytes ? Verdict(bytes < BenchReport.PeakRssTargetBytes) : NotAvailable)} |\n");
        }

        foreach (var delay in CargoSides.UpstreamDelays)
        {
            var direct = report.CargoMedian(CargoSides.Direct(delay));
            var mirror = report.CargoMedian(CargoSides.Mirror(delay));
            if (direct is null && mirror is null && !report.CargoRuns.Any(r => r.Side == CargoSides.Direct(delay)))
            {
                continue;
            }

            var ratio = direct is { } d && mirror is { } m ? m.TotalSeconds / d.TotalSeconds : (double?)null;
            var absolute = direct is { } d2 && mirror is { } m2 ? $"{Seconds(m2)} vs {Seconds(d2)}" : $"{NotAvailable} (a run failed)";
            var target = delay > TimeSpan.Zero ? $"≤ {BenchReport.CargoTarget:0.0}×" : "(reported)";
            var verdict = ratio is { } x ? delay > TimeSpan.Zero ? Verdict(x <= BenchReport.CargoTarget) : "-" : NotAvailable;
            md.Append(Invariant, $"| Cold cargo generate-lockfile + fetch, {CargoSides.Upstream(delay)}, median mirror/direct | {(ratio is { } rr ? $"{rr:0.00}×" : NotAvailable)} | {absolute} | {target} | {verdict} |\n");

            if (delay > TimeSpan.Zero && report.CargoMedian(CargoSides.MirrorWithPrefetch(delay)) is { } prefetched && direct is { } d3)
            {
                md.Append(Invariant, $"| … the same with `{CargoSides.PrefetchSetting.Key.Replace("__", ":", StringComparison.Ordinal)}=true` (off by default) | {prefetched.TotalSeconds / d3.TotalSeconds:0.00}× | {Seconds(prefetched)} vs {Seconds(d3)} | (reported) | - |\n");
            }
        }

        if (report.CargoRuns.Count > 0)
        {
            var counts = report.UpstreamDownloadsPerMirrorRun;
            if (counts.Count > 0)
            {
                var bad = counts.Where(c => c.Value.Any(n => n != 1)).Select(c => c.Key).ToList();
                var runs = counts.Values.Max(v => v.Count);
                var countFigure = bad.Count == 0
                    ? $"all 1 ({counts.Count} files × {runs} runs)"
                    : $"{bad.Count} of {counts.Count} files not 1: {string.Join(", ", bad.Take(5))}{(bad.Count > 5 ? ", …" : string.Empty)}";
                md.Append(Invariant, $"| Upstream download requests per crate file per mirror run | {countFigure} | - | = 1 | {Verdict(bad.Count == 0)} |\n");
            }
        }

        foreach (var row in report.Memory)
        {
            var figure = row.DeltaBytes is { } delta ? Mb(delta) : NotAvailable;
            var verdict = row.DeltaBytes is { } d2 && row.Problem is null ? Verdict(d2 < BenchReport.BigCrateDeltaTargetBytes) : NotAvailable;
            var share = row.DeltaBytes is { } d3 ? $"{(double)d3 / BenchReport.BigCrateDeltaTargetBytes:0.00}× of the limit" : NotAvailable;
            md.Append(Invariant, $"| Big crate, {row.Download}: mirror HWM − RSS before | {share} | {figure}{(row.Problem is null ? string.Empty : " (download failed)")} | < {Mb(BenchReport.BigCrateDeltaTargetBytes)} | {verdict} |\n");
        }

        foreach (var row in report.Storm)
        {
            var figure = row.Problem is not null
                ? $"{NotAvailable} (the storm did not run)"
                : row.OncePerFile
                    ? $"all 1 ({row.UpstreamPerFile.Count} files)"
                    : $"{row.NotFetchedOnce.Count} of {row.UpstreamPerFile.Count} files not 1 (max {row.UpstreamPerFile.Values.Max()})";
            md.Append(Invariant, $"| Build storm, {row.Clients} clients on {row.Nodes} node(s): upstream requests per file | {figure} | - | = 1 | {(row.Problem is null ? Verdict(row.OncePerFile) : NotAvailable)} |\n");
        }

        foreach (var endpoint in report.StorageCompare.Select(r => r.Endpoint).Distinct())
        {
            var rows = report.StorageCompare.Where(r => r.Endpoint == endpoint).ToList();
            var target = $"≥ {BenchReport.StorageCompareTarget:0.0#}× filesystem";
            if (rows.Any(r => r.Ratio is null))
            {
                md.Append(Invariant, $"| Warm {endpoint} req/s, worst Azure/filesystem | {NotAvailable} (a run failed or had errors) | - | {target} | {NotAvailable} |\n");
                continue;
            }

            var worst = rows.MinBy(r => r.Ratio)!;
            md.Append(Invariant, $"| Warm {endpoint} req/s, worst Azure/filesystem | {worst.Ratio:0.00}× at {worst.Connections} connections | - | {target} | {Verdict(worst.Ratio >= BenchReport.StorageCompareTarget)} |\n");
        }

        md.Append('\n');
    }

    private static string Rate(WrkSide side) => side.Result is { } r ? r.RequestsPerSecond.ToString("#,0", Invariant) : NotAvailable;

    private static void RenderPhases(StringBuilder md, BenchReport report)
    {
        md.Append("## Phases\n\n");
        foreach (var phase in report.Phases)
        {
            var status = phase.Status switch
            {
                PhaseStatus.Ok => "ok",
                PhaseStatus.Failed => "**FAILED**",
                _ => "skipped",
            };
            md.Append(Invariant, $"- {phase.Phase}: {status}");
            if (phase.Detail.Length > 0)
            {
                md.Append(phase.Detail.Contains('\n', StringComparison.Ordinal)
                    ? $"\n\n  ```\n  {phase.Detail.Replace("\n", "\n  ", StringComparison.Ordinal)}\n  ```\n"
                    : $" — {phase.Detail}");
            }

            md.Append('\n');
        }

        md.Append('\n');
    }

    private static void RenderThroughput(StringBuilder md, BenchReport report, BenchOptions options)
    {
        if (report.Throughput.Count == 0)
        {
            return;
        }

        md.Append(Invariant, $"## Throughput (wrk -t{(options.Pinning.Enabled ? options.Pinning.ClientCores : 2)} -cN -d{options.DurationSeconds}s, keep-alive, same bytes and paths; {options.Pinning.Describe()})\n\n");
        md.Append("| Endpoint | Conns | Mirror req/s | Mirror p50 / p99 | Mirror MB/s | nginx req/s | nginx p50 / p99 | nginx MB/s | Mirror/nginx | Target | Result | bare Kestrel req/s | Kestrel/nginx | Mirror/Kestrel |\n");
        md.Append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|\n");
        foreach (var row in report.Throughput)
        {
            var verdict = row.Ratio is { } value ? Verdict(value >= row.TargetRatio) : NotAvailable;
            var kestrel = row.Kestrel.Result is { } k ? string.Create(Invariant, $"{k.RequestsPerSecond:#,0}") : NotAvailable;
            md.Append(Invariant, $"| {row.Endpoint} | {row.Connections} | {Side(row.Mirror)} | {Side(row.Nginx)} | {Ratio(row.Ratio)} | ≥ {row.TargetRatio:0.0#}× | {verdict} | {kestrel} | {Ratio(row.KestrelRatio)} | {Ratio(row.MirrorOfKestrel)} |\n");
        }

        md.Append('\n');
        foreach (var row in report.Throughput)
        {
            foreach (var (name, side) in new[] { ("mirror", row.Mirror), ("nginx", row.Nginx), ("bare Kestrel", row.Kestrel) })
            {
                var problem = side.Error ?? side.Result?.Errors;
                if (problem is not null)
                {
                    md.Append(Invariant, $"- {row.Endpoint}, {row.Connections} connections, {name}: {problem}\n");
                }
            }
        }

        md.Append('\n');
    }

    private static string Ratio(double? ratio) => ratio is { } r ? string.Create(Invariant, $"{r:0.00}×") : NotAvailable;

    private static void RenderPeakRss(StringBuilder md, BenchReport report)
    {
        if (report.PeakRss.Count == 0)
        {
            return;
        }

        md.Append("## Mirror peak RSS (VmHWM from /proc/PID/status, read just before the process was stopped)\n\n");
        md.Append("| Mirror process | Peak RSS |\n|---|--:|\n");
        foreach (var peak in report.PeakRss)
        {
            md.Append(Invariant, $"| {peak.Process} | {(peak.Bytes is { } b ? Mb(b) : peak.Error ?? NotAvailable)} |\n");
        }

        md.Append('\n');
    }

    private static void RenderCargo(StringBuilder md, BenchReport report)
    {
        if (report.CargoRuns.Count == 0)
        {
            return;
        }

        md.Append("## Cold cargo fetch (`cargo generate-lockfile` + `cargo fetch`, fresh CARGO_HOME; mirror runs also on a fresh mirror and storage root)\n\n");
        var runs = report.CargoRuns.Where(r => r.Side.StartsWith("direct", StringComparison.Ordinal)).Select(r => r.Run).DefaultIfEmpty(1).Max();
        md.Append("| Side |");
        for (var i = 1; i <= runs; i++)
        {
            md.Append(Invariant, $" Run {i} |");
        }

        md.Append(" Median |\n|---|");
        md.Append(string.Concat(Enumerable.Repeat("--:|", runs + 1))).Append('\n');
        foreach (var side in CargoSides.UpstreamDelays.SelectMany(CargoSides.Sides).Where(side => report.CargoRuns.Any(r => r.Side == side)))
        {
            md.Append(Invariant, $"| {side} |");
            for (var i = 1; i <= runs; i++)
            {
                var run = report.CargoRuns.FirstOrDefault(r => r.Side == side && r.Run == i);
                md.Append(Invariant, $" {(run?.Elapsed is { } e ? Seconds(e) : run is null ? "-" : "failed")} |");
            }

            md.Append(Invariant, $" {(report.CargoMedian(side) is { } m ? Seconds(m) : NotAvailable)} |\n");
        }

        md.Append('\n');
        foreach (var run in report.CargoRuns.Where(r => r.Error is not null))
        {
            md.Append(Invariant, $"- {run.Side} run {run.Run} failed:\n\n  ```\n  {run.Error!.Trim().Replace("\n", "\n  ", StringComparison.Ordinal)}\n  ```\n");
        }

        if (report.CargoWarmups.Count > 0)
        {
            md.Append(Invariant, $"\nMethods .NET compiled per warm-up round of each fresh mirror, before it was timed (mirror runs in order): {string.Join("; ", report.CargoWarmups)}.\n");
        }

        if (report.UpstreamDownloadsPerMirrorRun.Count > 0)
        {
            md.Append("\nFake upstream download requests per crate file, per mirror run (each run starts from an empty storage root, so each must be exactly 1):\n\n");
            md.Append("| Crate file | Requests per run |\n|---|---|\n");
            foreach (var (file, counts) in report.UpstreamDownloadsPerMirrorRun)
            {
                var text = string.Join(", ", counts);
                md.Append(Invariant, $"| {file} | {(counts.All(c => c == 1) ? text : $"**{text}**")} |\n");
            }
        }

        md.Append('\n');
    }

    private static void RenderMemory(StringBuilder md, BenchReport report)
    {
        if (report.Memory.Count == 0)
        {
            return;
        }

        md.Append("## 400 MB crate through the mirror, filesystem and Azure Blob storage (peak RSS reset via /proc/PID/clear_refs before each download)\n\n");
        md.Append("| Download | Mirror RSS before | Mirror HWM after | HWM − RSS before | Time | Target | Result |\n|---|--:|--:|--:|--:|--:|---|\n");
        foreach (var row in report.Memory)
        {
            md.Append(Invariant, $"| {row.Download} | {Opt(row.RssBeforeBytes)} | {Opt(row.PeakAfterBytes)} | {Opt(row.DeltaBytes)} | {(row.Elapsed is { } e ? Seconds(e) : NotAvailable)} | < {Mb(BenchReport.BigCrateDeltaTargetBytes)} | {(row.DeltaBytes is { } d && row.Problem is null ? Verdict(d < BenchReport.BigCrateDeltaTargetBytes) : NotAvailable)} |\n");
        }

        md.Append('\n');
        foreach (var row in report.Memory.Where(r => r.Problem is not null))
        {
            md.Append(Invariant, $"- {row.Download}: {row.Problem}\n");
        }

        md.Append('\n');
    }

    private static void RenderStorm(StringBuilder md, BenchReport report)
    {
        if (report.Storm.Count == 0)
        {
            return;
        }

        md.Append("## Build storm (cold clients, all requests at once, nodes sharing one Azurite container)\n\n");
        md.Append("| Nodes | Clients | Files per client | Requests | Failed | p50 | p99 | Wall | Req/s | MB/s | Upstream requests per file | Result |\n");
        md.Append("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n");
        foreach (var row in report.Storm)
        {
            if (row.Problem is not null)
            {
                md.Append(Invariant, $"| {row.Nodes} | {row.Clients} | {row.Files} | - | - | - | - | - | - | - | {NotAvailable} | **FAILED** |\n");
                continue;
            }

            var perFile = row.OncePerFile
                ? "all 1"
                : "**" + string.Join(", ", row.NotFetchedOnce.Select(f => $"{f.Key}: {f.Value}")) + "**";
            md.Append(Invariant, $"| {row.Nodes} | {row.Clients} | {row.Files} | {row.Requests:#,0} | {row.Failed} | {Latency(row.LatencyP50)} | {Latency(row.LatencyP99)} | {Seconds(row.Wall)} | {row.RequestsPerSecond:#,0} | {row.MegabytesPerSecond:0.00} | {perFile} | {Verdict(row.OncePerFile && row.Failed == 0)} |\n");
        }

        md.Append('\n');
        foreach (var row in report.Storm.Where(r => r.Problem is not null || r.FirstFailure is not null))
        {
            var text = row.Problem ?? $"{row.Failed} requests failed; first: {row.FirstFailure}";
            md.Append(Invariant, $"- {row.Nodes} node(s):\n\n  ```\n  {text.Trim().Replace("\n", "\n  ", StringComparison.Ordinal)}\n  ```\n");
        }

        md.Append('\n');
    }

    private static void RenderStorageCompare(StringBuilder md, BenchReport report, BenchOptions options)
    {
        if (report.StorageCompare.Count == 0)
        {
            return;
        }

        md.Append(Invariant, $"## Warm hits, one node each: Azure Blob (Azurite) vs filesystem storage (wrk -t2 -cN -d{options.DurationSeconds}s)\n\n");
        md.Append("| Endpoint | Conns | Azure req/s | Azure p50 / p99 | Azure MB/s | Filesystem req/s | Filesystem p50 / p99 | Filesystem MB/s | Azure/filesystem | Target | Result |\n");
        md.Append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
        foreach (var row in report.StorageCompare)
        {
            var ratio = row.Ratio is { } r ? string.Create(Invariant, $"{r:0.00}×") : NotAvailable;
            var verdict = row.Ratio is { } value ? Verdict(value >= BenchReport.StorageCompareTarget) : NotAvailable;
            md.Append(Invariant, $"| {row.Endpoint} | {row.Connections} | {Side(row.Azure)} | {Side(row.FileSystem)} | {ratio} | ≥ {BenchReport.StorageCompareTarget:0.0#}× | {verdict} |\n");
        }

        md.Append('\n');
        foreach (var row in report.StorageCompare)
        {
            foreach (var (name, side) in new[] { ("Azure", row.Azure), ("filesystem", row.FileSystem) })
            {
                var problem = side.Error ?? side.Result?.Errors;
                if (problem is not null)
                {
                    md.Append(Invariant, $"- {row.Endpoint}, {row.Connections} connections, {name}: {problem}\n");
                }
            }
        }

        md.Append('\n');
    }

    private static string Side(WrkSide side)
    {
        if (side.Result is not { } r)
        {
            return $"{NotAvailable} | {NotAvailable} | {NotAvailable}";
        }

        var flag = r.Errors is null ? string.Empty : " ⚠";
        return string.Create(Invariant, $"{r.RequestsPerSecond:#,0}{flag} | {Latency(r.LatencyP50)} / {Latency(r.LatencyP99)} | {r.TransferBytesPerSecond / (1024 * 1024):#,0.0}");
    }

    private static string Latency(TimeSpan? latency) => latency switch
    {
        null => "?",
        { TotalMilliseconds: < 1 } l => string.Create(Invariant, $"{l.TotalMicroseconds:0}µs"),
        { TotalMilliseconds: < 100 } l => string.Create(Invariant, $"{l.TotalMilliseconds:0.00}ms"),
        { } l => string.Create(Invariant, $"{l.TotalMilliseconds:0}ms"),
    };

    private static string Verdict(bool pass) => pass ? Pass : Miss;

    private static string Mb(long bytes) => string.Create(Invariant, $"{bytes / (1024.0 * 1024.0):0.0} MB");

    private static string Opt(long? bytes) => bytes is { } b ? Mb(b) : NotAvailable;

    private static string Seconds(TimeSpan elapsed) => string.Create(Invariant, $"{elapsed.TotalSeconds:0.00} s");
}
