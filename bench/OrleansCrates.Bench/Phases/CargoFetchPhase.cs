using System.Diagnostics;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// Step 6: wall-clock of a cold <c>cargo generate-lockfile</c> + <c>cargo fetch</c> of the consumer of the default
/// graph, straight from the fake upstream and through a fresh mirror (empty storage root), alternating, each with a
/// fresh CARGO_HOME. For each mirror run, counts the upstream download requests per locked crate file.
/// Unless told otherwise, each fresh mirror process is first warmed up with config.json and the index files and
/// downloads of <see cref="WarmupCrates"/> crates the consumer does not use, so that the graph's crates stay cold but
/// the timing is of the mirror's cache misses as a mirror in service has them, not of .NET start-up: a cold miss runs
/// through a good deal of code (a grain activation, the upstream client, the receive-and-store path) that .NET compiles
/// first unoptimised and recompiles only after some 30 calls. Measured here: a cold 404 index request took about 4 ms
/// in a fresh process that had served one crate, and 0.76 ms (against 0.38 ms straight from the upstream) once that
/// code was optimised. <c>--cold-mirror-process</c> times the fresh process instead.
/// </summary>
internal sealed class CargoFetchPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    private const string Phase = "Cold cargo fetch";
    private static readonly TimeSpan CargoTimeout = TimeSpan.FromMinutes(3);

    /// <summary>Mirror runs so far, all sides and latencies: each file's upstream download counts are listed in this order.</summary>
    private int _mirrorRuns;

    /// <summary>Crates outside the consumer's graph that each fresh mirror serves per warm-up round: past .NET's tier-up threshold.</summary>
    public const int WarmupCrates = 40;

    /// <summary>
    /// Warm-up rounds at most: another round runs while the last one still had .NET compile
    /// <see cref="QuietJitMethods"/> methods or more (the cold path being recompiled, optimised, in the background).
    /// </summary>
    public const int MaxWarmupRounds = 4;

    /// <summary>A warm-up round after which .NET compiled fewer methods than this leaves the process as one in service.</summary>
    public const int QuietJitMethods = 50;

    /// <summary>How long the JIT counter must stand still before a round's compilation counts as over.</summary>
    private static readonly TimeSpan JitQuietFor = TimeSpan.FromMilliseconds(500);

    /// <param name="graph">The consumer's graph (cargo fetches all of it).</param>
    /// <param name="unrelated">A crate outside <paramref name="graph"/>, the first of those that warm up each mirror process.</param>
    public async Task RunAsync(CrateGraph graph, SyntheticCrate unrelated, CancellationToken cancellationToken)
    {
        IReadOnlyList<SyntheticCrate> warmup =
        [
            unrelated,
            .. Enumerable.Range(1, (WarmupCrates * MaxWarmupRounds) - 1).Select(i => CrateGraph.BuildCrate($"bench-warm-{i:000}", "1.0.0")),
        ];
        foreach (var delay in CargoSides.UpstreamDelays)
        {
            await RunAsync(graph, warmup, delay, cancellationToken);
        }
    }

    private async Task RunAsync(CrateGraph graph, IReadOnlyList<SyntheticCrate> warmup, TimeSpan delay, CancellationToken cancellationToken)
    {
        var upstreamGraph = warmup.Aggregate(graph, (g, crate) => g.With(crate));
        await using var upstream = await FakeUpstream.StartAsync(upstreamGraph, new FakeUpstreamOptions { ResponseDelay = delay }, cancellationToken);
        Console.WriteLine($"[bench] cold cargo fetch, {CargoSides.Upstream(delay)}");
        if (delay == CargoSides.UpstreamDelays[0])
        {
            report.Note(options.MirrorJitWarmup
            ? $"cold cargo fetch: each fresh mirror first served config.json and the index files and downloads of crates the consumer does not use ({warmup[0].Name}, bench-warm-001 …), {WarmupCrates} per round, until a round left .NET compiling fewer than {QuietJitMethods} methods (at most {MaxWarmupRounds} rounds; dotnet_jit_compiled_methods_total at /metrics, still for {JitQuietFor.TotalMilliseconds:0} ms), as a mirror in service has (its cold-path code optimised by .NET's tiered compilation); pass --cold-mirror-process to time a fresh process instead."
            : "cold cargo fetch: --cold-mirror-process: each mirror process served cargo's first request cold (JIT included).");
        }

        Console.WriteLine($"[bench] fake upstream at {upstream.IndexUrl}; cargo: {CargoProject.CargoExecutable}");

        // One unmeasured run so that both sides find the cargo binary, the page cache and the in-process
        // fake upstream equally warm.
        var unmeasured = await TimeCargoAsync(upstream.IndexUrl, graph, cancellationToken);
        if (unmeasured.Error is not null)
        {
            report.Fail(Phase, $"cargo cannot fetch even straight from the fake upstream: {unmeasured.Error}");
            return;
        }

        report.Note($"cold cargo fetch ({CargoSides.Upstream(delay)}): one unmeasured warm-up run straight from the fake upstream took {unmeasured.Elapsed.TotalSeconds:0.00} s.");

        for (var run = 1; run <= options.CargoRuns; run++)
        {
            var direct = await TimeCargoAsync(upstream.IndexUrl, graph, cancellationToken);
            report.CargoRuns.Add(new CargoRun(CargoSides.Direct(delay), run, direct.Error is null ? direct.Elapsed : null, direct.Error));
            Console.WriteLine($"[bench]   run {run} direct: {Describe(direct)}");

            var mirrored = await TimeThroughMirrorAsync(upstream, graph, warmup, run, CargoSides.Mirror(delay), null, cancellationToken);
            report.CargoRuns.Add(new CargoRun(CargoSides.Mirror(delay), run, mirrored.Error is null ? mirrored.Elapsed : null, mirrored.Error));
            Console.WriteLine($"[bench]   run {run} mirror: {Describe(mirrored)}");

            if (delay > TimeSpan.Zero)
            {
                var prefetched = await TimeThroughMirrorAsync(upstream, graph, warmup, run, CargoSides.MirrorWithPrefetch(delay), CargoSides.PrefetchSetting, cancellationToken);
                report.CargoRuns.Add(new CargoRun(CargoSides.MirrorWithPrefetch(delay), run, prefetched.Error is null ? prefetched.Elapsed : null, prefetched.Error));
                Console.WriteLine($"[bench]   run {run} mirror, prefetch on: {Describe(prefetched)}");
            }
        }

        var sides = CargoSides.Sides(delay).ToHashSet();
        var runs = report.CargoRuns.Where(r => sides.Contains(r.Side)).ToList();
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
        IReadOnlyList<SyntheticCrate> warmup,
        int run,
        string side,
        KeyValuePair<string, string>? setting,
        CancellationToken cancellationToken)
    {
        var slot = ++_mirrorRuns; // this run's place in each file's list of upstream download counts
        var environment = new Dictionary<string, string>(options.MirrorEnvironment, StringComparer.Ordinal);
        if (setting is { } extra)
        {
            environment[extra.Key] = extra.Value;
        }

        MirrorServer mirror;
        try
        {
            mirror = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, environment, cancellationToken);
        }
        catch (BenchException ex)
        {
            return new Timing(TimeSpan.Zero, "mirror did not start: " + ex.Message, []);
        }

        await using (mirror)
        {
            if (options.MirrorJitWarmup)
            {
                var warmed = await WarmUpAsync(mirror, warmup, cancellationToken);
                if (warmed.Problem is { } warmupProblem)
                {
                    report.Note($"cold cargo fetch, run {run}: the mirror warm-up failed ({warmupProblem}); timing cargo anyway.");
                }

                report.CargoWarmups.Add(warmed.Describe());
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
                while (counts.Count < slot - 1)
                {
                    counts.Add(0);
                }

                counts.Add(count);
            }

            try
            {
                report.PeakRss.Add(new PeakRss($"cargo run {run}, {side}", mirror.ReadMemory().PeakRssBytes, null));
            }
            catch (BenchException ex)
            {
                report.PeakRss.Add(new PeakRss($"cargo run {run}, {side}", null, ex.Message.Split('\n')[0]));
            }

            return timing;
        }
    }

    /// <summary>
    /// Rounds of <see cref="WarmupCrates"/> cold crates (index file, then download) until .NET compiled fewer than
    /// <see cref="QuietJitMethods"/> methods in the last one: tiered compilation recompiles a method optimised only
    /// after some 30 calls, in the background, so a single round leaves much of the cold path to be recompiled while
    /// cargo is timed.
    /// </summary>
    private async Task<Warmup> WarmUpAsync(MirrorServer mirror, IReadOnlyList<SyntheticCrate> warmup, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(60);
        var config = await probe.GetAsync(mirror.IndexUrl + "config.json", timeout, cancellationToken);
        if (!config.IsOk)
        {
            return new Warmup([], $"GET {config.Url}: {config.Error ?? $"HTTP {(int?)config.Status}"}");
        }

        var compiledPerRound = new List<long>();
        var compiled = await QuietJitCountAsync(mirror, cancellationToken);
        foreach (var round in warmup.Chunk(WarmupCrates))
        {
            foreach (var crate in round)
            {
                var index = await probe.GetAsync(mirror.IndexUrl + crate.IndexPath, timeout, cancellationToken);
                if (!index.IsOk)
                {
                    return new Warmup(compiledPerRound, $"GET {index.Url}: {index.Error ?? $"HTTP {(int?)index.Status}"}");
                }

                var download = await probe.GetAsync($"{mirror.BaseUrl}/crates/{crate.Name}/{crate.Version}/download", timeout, cancellationToken);
                if (download.Problem(crate.Sha256) is { } problem)
                {
                    return new Warmup(compiledPerRound, problem);
                }
            }

            var after = await QuietJitCountAsync(mirror, cancellationToken);
            if (compiled is null || after is null)
            {
                return new Warmup(compiledPerRound, "dotnet_jit_compiled_methods_total is not at /metrics: one round only");
            }

            compiledPerRound.Add(after.Value - compiled.Value);
            compiled = after;
            if (compiledPerRound[^1] < QuietJitMethods)
            {
                break;
            }
        }

        return new Warmup(compiledPerRound, null);
    }

    /// <summary>The mirror's JIT-compiled method count once it stood still for <see cref="JitQuietFor"/> (at most 30 s), or null when /metrics does not say.</summary>
    private async Task<long?> QuietJitCountAsync(MirrorServer mirror, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        long? last = null;
        var stillSince = DateTime.UtcNow;
        while (true)
        {
            var text = await probe.GetTextAsync(mirror.BaseUrl + "/metrics", TimeSpan.FromSeconds(10), cancellationToken);
            var count = text is null ? null : JitCount(text);
            if (count is null)
            {
                return null;
            }

            if (count != last)
            {
                last = count;
                stillSince = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - stillSince >= JitQuietFor || DateTime.UtcNow > deadline)
            {
                return count;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    private static long? JitCount(string metrics)
    {
        const string compiled = "dotnet_jit_compiled_methods_total";
        try
        {
            var scrape = PrometheusScrape.Parse(metrics);
            return scrape.Types.ContainsKey(compiled) ? (long)scrape.Sum(compiled) : null;
        }
        catch (FormatException)
        {
            return null; // not a metrics page (an error answer): /metrics does not say
        }
    }

    /// <summary>Methods .NET compiled during each warm-up round (after it, until the count stood still).</summary>
    private sealed record Warmup(IReadOnlyList<long> CompiledPerRound, string? Problem)
    {
        public string Describe() => CompiledPerRound.Count == 0 ? "-" : string.Join(" → ", CompiledPerRound);
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
