using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// Step 7: the mirror's memory cost of streaming a 400 MB crate, cold (fetched from the upstream while served)
/// and warm (served from storage), on filesystem storage and on Azure Blob storage (a private Azurite) alike. Before each download the mirror's VmRSS is read and its VmHWM reset; after it,
/// VmHWM − RSS before is the figure. The bench streams the body into SHA-256 and never holds it whole.
/// </summary>
internal sealed class BigCrateMemoryPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    private const string Phase = "400 MB crate memory";
    private const int BigCrateBytes = 400 * 1024 * 1024;
    private static readonly TimeSpan DownloadTimeout = TimeSpan.FromMinutes(5);

    public async Task RunAsync(CrateGraph graph, CancellationToken cancellationToken)
    {
        Console.WriteLine("[bench] building the 400 MB crate ...");
        var big = CrateGraph.BuildCrate("bench-big", "1.0.0", paddingBytes: BigCrateBytes);
        Console.WriteLine($"[bench] bench-big 1.0.0: {big.CrateBytes.Length / (1024.0 * 1024.0):0.0} MB, sha256 {big.Sha256}");

        await using var upstream = await FakeUpstream.StartAsync(graph, null, cancellationToken);
        upstream.Graph = upstream.Graph.With(big);
        var problems = new List<string>();
        await MeasureOnAsync("filesystem", upstream, big, options.MirrorEnvironment, problems, cancellationToken);
        await using (var azurite = await AzuriteStorage.StartAsync(cancellationToken))
        {
            await MeasureOnAsync("Azure Blob (Azurite)", upstream, big, AzuriteStorage.Environment(azurite, "bench-big", options.MirrorEnvironment), problems, cancellationToken);
        }

        var upstreamDownloads = upstream.Downloads(big.Name, big.Version);
        if (upstreamDownloads != 2)
        {
            report.Note($"400 MB crate: the fake upstream saw {upstreamDownloads} download requests for it (expected 2, one per storage: the warm downloads should come from storage).");
        }

        if (problems.Count == 0)
        {
            report.Ok(Phase, $"upstream download requests for the crate: {upstreamDownloads}");
        }
        else
        {
            report.Fail(Phase, string.Join("\n", problems));
        }
    }

    private async Task MeasureOnAsync(string storage, FakeUpstream upstream, SyntheticCrate big, IReadOnlyDictionary<string, string> environment, List<string> problems, CancellationToken cancellationToken)
    {
        var indexBytes = upstream.Graph.IndexFileFor(big.Name)!;
        await using var mirror = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, environment, cancellationToken);
        Console.WriteLine($"[bench] mirror on {storage} at {mirror.BaseUrl} (pid {mirror.ProcessId})");
        await mirror.WaitUntilReadyAsync(probe, TimeSpan.FromSeconds(60), cancellationToken);

        // As cargo would: the index file first, then the download.
        var index = await probe.GetAsync($"{mirror.BaseUrl}/index/{big.IndexPath}", TimeSpan.FromSeconds(60), cancellationToken);
        if (index.Problem(HttpProbe.Sha256Hex(indexBytes)) is { } indexProblem)
        {
            report.Note($"400 MB crate on {storage}: the index file through the mirror was not right ({indexProblem}); downloading anyway.");
        }

        var downloadUrl = $"{mirror.BaseUrl}/crates/{big.Name}/{big.Version}/download";
        foreach (var label in new[] { $"{storage}, cold (fetched from upstream)", $"{storage}, warm (served from storage)" })
        {
            var row = await MeasureAsync(mirror, label, downloadUrl, big.Sha256, cancellationToken);
            report.Memory.Add(row);
            Console.WriteLine($"[bench]   {label}: {Describe(row)}");
            if (row.Problem is not null)
            {
                problems.Add($"{label}: {row.Problem}");
            }

            if (mirror.HasExited)
            {
                problems.Add($"the mirror process on {storage} died. Last output:\n{mirror.Tail(30)}");
                break;
            }
        }
    }

    private static string Describe(MemoryRow row) =>
        row.DeltaBytes is { } delta
            ? $"RSS before {row.RssBeforeBytes / 1048576.0:0.0} MB, HWM after {row.PeakAfterBytes / 1048576.0:0.0} MB, delta {delta / 1048576.0:0.0} MB, {row.Elapsed?.TotalSeconds:0.00} s{(row.Problem is null ? string.Empty : " — " + row.Problem)}"
            : row.Problem ?? "no figures";

    private async Task<MemoryRow> MeasureAsync(MirrorServer mirror, string label, string url, string sha256, CancellationToken cancellationToken)
    {
        // Let any background work from the previous step settle before taking the baseline.
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        MemorySample before;
        try
        {
            mirror.EnsureRunning();
            before = mirror.ReadMemory();
            mirror.ResetPeakMemory();
            var reset = mirror.ReadMemory();
            if (reset.PeakRssBytes > reset.RssBytes + (8L * 1024 * 1024))
            {
                report.Note($"400 MB crate, {label}: VmHWM did not drop to VmRSS after clear_refs ({reset.PeakRssBytes / 1048576.0:0.0} MB vs {reset.RssBytes / 1048576.0:0.0} MB); the figure is an upper bound.");
            }
        }
        catch (BenchException ex)
        {
            return new MemoryRow(label, null, null, null, ex.Message);
        }

        var result = await probe.GetAsync(url, DownloadTimeout, cancellationToken);
        long? peak = null;
        string? problem = result.Problem(sha256);
        try
        {
            mirror.EnsureRunning();
            peak = mirror.ReadMemory().PeakRssBytes;
        }
        catch (BenchException ex)
        {
            problem = problem is null ? ex.Message : problem + "; " + ex.Message;
        }

        if (result.Problem(sha256) is not null)
        {
            problem += $". Mirror output:\n{mirror.Tail(20)}";
        }

        return new MemoryRow(label, before.RssBytes, peak, result.Elapsed, problem);
    }
}
