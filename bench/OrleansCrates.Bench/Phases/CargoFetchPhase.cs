using System.Diagnostics;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// Step 6: wall-clock of a cold <c>cargo generate-lockfile</c> + <c>cargo fetch</c> of the consumer of the default
/// graph, straight from the fake upstream and through a fresh mirror (empty storage root), alternating, each with a
/// fresh CARGO_HOME. For each mirror run, counts the upstream download requests per locked crate file.
/// Unless told otherwise, each fresh mirror process is first warmed up (JIT, connection pools) with config.json and
/// the index file and download of a crate the consumer does not use, so that the graph's crates stay cold but the
/// timing is of the mirror's cache misses rather than of .NET start-up.
/// </summary>
internal sealed class CargoFetchPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    private const string Phase = "Cold cargo fetch";
    private static readonly TimeSpan CargoTimeout = TimeSpan.FromMinutes(3);

    /// <param name="graph">The consumer's graph (cargo fetches all of it).</param>
    /// <param name="unrelated">A crate outside <paramref name="graph"/>, used only to warm up each mirror process.</param>
    public async Task RunAsync(CrateGraph graph, SyntheticCrate unrelated, CancellationToken cancellationToken)
    {
        foreach (var delay in CargoSides.UpstreamDelays)
        {
            await RunAsync(graph, unrelated, delay, cancellationToken);
        }
    }

    private async Task RunAsync(CrateGraph graph, SyntheticCrate unrelated, TimeSpan delay, CancellationToken cancellationToken)
    {
        var upstreamGraph = graph.With(unrelated);
        await using var upstream = await FakeUpstream.StartAsync(upstreamGraph, new FakeUpstreamOptions { ResponseDelay = delay }, cancellationToken);
        Console.WriteLine($"[bench] cold cargo fetch, {CargoSides.Upstream(delay)}");
        if (delay == CargoSides.UpstreamDelays[0])
        {
            report.Note(options.MirrorJitWarmup
            ? $"cold cargo fetch: each fresh mirror was warmed up first with config.json and the index file and download of {unrelated.Name} (not a dependency of the consumer); pass --cold-mirror-process to time .NET start-up too."
            : "cold cargo fetch: --cold-mirror-process: each mirror process served cargo's first request cold (JIT included).");
        }

        Console.WriteLine($"[bench] fake upstream at {upstream.IndexUrl}; cargo: {CargoProject.CargoExecutable}");

        // One unmeasured run so that both sides find the cargo binary, the page cache and the in-process
        // fake upstream equally warm.
        var warmup = await TimeCargoAsync(upstream.IndexUrl, graph, cancellationToken);
        if (warmup.Error is not null)
        {
            report.Fail(Phase, $"cargo cannot fetch even straight from the fake upstream: {warmup.Error}");
            return;
        }

        report.Note($"cold cargo fetch ({CargoSides.Upstream(delay)}): one unmeasured warm-up run straight from the fake upstream took {warmup.Elapsed.TotalSeconds:0.00} s.");

        for (var run = 1; run <= options.CargoRuns; run++)
        {
            var direct = await TimeCargoAsync(upstream.IndexUrl, graph, cancellationToken);
            report.CargoRuns.Add(new CargoRun(CargoSides.Direct(delay), run, direct.Error is null ? direct.Elapsed : null, direct.Error));
            Console.WriteLine($"[bench]   run {run} direct: {Describe(direct)}");

            var mirrored = await TimeThroughMirrorAsync(upstream, graph, unrelated, delay == TimeSpan.Zero ? run + options.CargoRuns : run, cancellationToken);
            report.CargoRuns.Add(new CargoRun(CargoSides.Mirror(delay), run, mirrored.Error is null ? mirrored.Elapsed : null, mirrored.Error));
            Console.WriteLine($"[bench]   run {run} mirror: {Describe(mirrored)}");
        }

        var runs = report.CargoRuns.Where(r => r.Side == CargoSides.Direct(delay) || r.Side == CargoSides.Mirror(delay)).ToList();
        var failures = runs.Count(r => r.Error is not null);
        if (failures == 0)
        {
            report.Ok($"{Phase} ({CargoSides.Upstream(delay)})", $"{options.CargoRuns} runs per side");
        }
        else
        {
            report.Fail($"{Phase} ({CargoSides.Upstream(delay)})", $"{failures} of {runs.Count} runs failed (details below)");
        }
    }

    private static string Describe(Timing timing) =>
        timing.Error is null ? $"{timing.Elapsed.TotalSeconds:0.00} s" : "FAILED: " + timing.Error.Split('\n')[0];

    private async Task<Timing> TimeThroughMirrorAsync(
        FakeUpstream upstream,
        CrateGraph graph,
        SyntheticCrate unrelated,
        int run,
        CancellationToken cancellationToken)
    {
        MirrorServer mirror;
        try
        {
            mirror = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, options.MirrorEnvironment, cancellationToken);
        }
        catch (BenchException ex)
        {
            return new Timing(TimeSpan.Zero, "mirror did not start: " + ex.Message, []);
        }

        await using (mirror)
        {
            if (options.MirrorJitWarmup && await WarmUpAsync(mirror, unrelated, cancellationToken) is { } warmupProblem)
            {
                report.Note($"cold cargo fetch, run {run}: the mirror warm-up request failed ({warmupProblem}); timing cargo anyway.");
            }

            var before = graph.Crates.ToDictionary(c => Key(c.Name, c.Version), c => (long)upstream.Downloads(c.Name, c.Version));
            var timing = await TimeCargoAsync(mirror.IndexUrl, graph, cancellationToken);
            if (timing.Error is not null)
            {
                return timing with { Error = $"{timing.Error}\n--- mirror output ---\n{mirror.Tail(20)}" };
            }

            foreach (var (name, version) in timing.Locked)
            {
                var key = Key(name, version);
                var count = upstream.Downloads(name, version) - before.GetValueOrDefault(key);
                if (!report.UpstreamDownloadsPerMirrorRun.TryGetValue(key, out var counts))
                {
                    report.UpstreamDownloadsPerMirrorRun[key] = counts = [];
                }

                // Pad for runs in which this file was not locked (should not happen with a fixed graph).
                while (counts.Count < run - 1)
                {
                    counts.Add(0);
                }

                counts.Add(count);
            }

            try
            {
                report.PeakRss.Add(new PeakRss($"cargo run {run} mirror", mirror.ReadMemory().PeakRssBytes, null));
            }
            catch (BenchException ex)
            {
                report.PeakRss.Add(new PeakRss($"cargo run {run} mirror", null, ex.Message.Split('\n')[0]));
            }

            return timing;
        }
    }

    private async Task<string?> WarmUpAsync(MirrorServer mirror, SyntheticCrate unrelated, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(60);
        var config = await probe.GetAsync(mirror.IndexUrl + "config.json", timeout, cancellationToken);
        if (!config.IsOk)
        {
            return $"GET {config.Url}: {config.Error ?? $"HTTP {(int?)config.Status}"}";
        }

        var index = await probe.GetAsync(mirror.IndexUrl + unrelated.IndexPath, timeout, cancellationToken);
        if (!index.IsOk)
        {
            return $"GET {index.Url}: {index.Error ?? $"HTTP {(int?)index.Status}"}";
        }

        var download = await probe.GetAsync($"{mirror.BaseUrl}/crates/{unrelated.Name}/{unrelated.Version}/download", timeout, cancellationToken);
        return download.Problem(unrelated.Sha256);
    }

    private static string Key(string name, string version) => $"{name.ToLowerInvariant()}-{version}.crate";

    /// <summary>A fresh project (fresh CARGO_HOME, no lockfile) timed over generate-lockfile + fetch.</summary>
    private static async Task<Timing> TimeCargoAsync(string indexUrl, CrateGraph graph, CancellationToken cancellationToken)
    {
        // net.retry = 0: a failing registry shows up as a failure, not as retry sleeps inside the timing.
        using var project = CargoProject.Create(indexUrl, graph, netRetry: 0);
        var stopwatch = Stopwatch.StartNew();
        foreach (var command in new[] { "generate-lockfile", "fetch" })
        {
            var result = await project.RunAsync([command], CargoTimeout, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            if (!result.Succeeded)
            {
                return new Timing(stopwatch.Elapsed, $"cargo {command} against {indexUrl}: {result}".Trim(), []);
            }
        }

        var elapsed = stopwatch.Elapsed;
        var locked = project.LockfilePackages()
            .Where(p => p.Source is not null)
            .Select(p => (p.Name, p.Version))
            .ToList();
        return new Timing(elapsed, null, locked);
    }

    private sealed record Timing(TimeSpan Elapsed, string? Error, IReadOnlyList<(string Name, string Version)> Locked);
}
