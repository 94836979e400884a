using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// Steps 2–5: a warmed mirror, nginx and a bare Kestrel (<see cref="KestrelBaseline"/>) serving the same 200 KB crate
/// and index file at the same paths, wrk at each connection count against each in turn, then the mirror's peak RSS
/// over the whole phase. A mirror that fails to start
/// or dies leaves the nginx figures standing.
/// </summary>
internal sealed class ThroughputPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    private const string Phase = "Throughput (wrk, mirror vs nginx)";

    public async Task RunAsync(CrateGraph graph, SyntheticCrate payload, CancellationToken cancellationToken)
    {
        var indexBytes = graph.IndexFileFor(payload.Name)
            ?? throw new BenchException($"{payload.Name} is not in the graph");
        var endpoints = new[]
        {
            new Endpoint(
                $"download ({payload.CrateBytes.Length / 1024} KB crate)",
                $"/crates/{payload.Name}/{payload.Version}/download",
                payload.CrateBytes,
                payload.Sha256,
                BenchReport.DownloadTarget),
            new Endpoint(
                "index file",
                "/index/" + payload.IndexPath,
                indexBytes,
                HttpProbe.Sha256Hex(indexBytes),
                BenchReport.IndexTarget),
        };

        await using var upstream = await FakeUpstream.StartAsync(graph, null, cancellationToken);
        Console.WriteLine($"[bench] fake upstream at {upstream.IndexUrl}");

        var problems = new List<string>();
        MirrorServer? mirror = null;
        string? mirrorUnavailable = null;
        NginxServer? nginx = null;
        string? nginxUnavailable = null;
        ChildProcess? kestrel = null;
        string? kestrelUrl = null;
        string? kestrelUnavailable = null;
        try
        {
            try
            {
                mirror = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, options.MirrorEnvironment, cancellationToken, options.Pinning);
                Console.WriteLine($"[bench] mirror at {mirror.BaseUrl} (pid {mirror.ProcessId})");
                await WarmAsync(mirror, endpoints, cancellationToken);
                report.Ok("Mirror start and warm-up", $"pid {mirror.ProcessId}; {string.Join(" and ", endpoints.Select(e => e.Path))} answered 200 with the expected sha256");
            }
            catch (BenchException ex)
            {
                if (mirror is null)
                {
                    mirrorUnavailable = "mirror did not start";
                }

                report.Fail("Mirror start and warm-up", ex.Message);
                problems.Add(mirror is null ? "the mirror did not start" : "the mirror failed its warm-up");
            }

            try
            {
                nginx = await NginxServer.StartAsync(endpoints.ToDictionary(e => e.Path, e => e.Bytes), probe, options.Pinning, cancellationToken);
                Console.WriteLine($"[bench] nginx at {nginx.BaseUrl}, docroot {nginx.DocumentRoot}");
                foreach (var endpoint in endpoints)
                {
                    var check = await probe.GetAsync(nginx.BaseUrl + endpoint.Path, TimeSpan.FromSeconds(30), cancellationToken);
                    if (check.Problem(endpoint.Sha256) is { } problem)
                    {
                        throw new BenchException("nginx baseline is wrong: " + problem);
                    }
                }
            }
            catch (BenchException ex)
            {
                nginxUnavailable = "nginx did not start";
                report.Fail("nginx baseline", ex.Message);
                problems.Add("nginx did not start");
            }

            if (nginx is not null)
            {
                try
                {
                    (kestrel, kestrelUrl) = await KestrelBaseline.StartAsync(nginx.DocumentRoot, options.MirrorEnvironment, options.Pinning, cancellationToken);
                    Console.WriteLine($"[bench] bare Kestrel baseline at {kestrelUrl} (pid {kestrel.Id}), same files from memory");
                    foreach (var endpoint in endpoints)
                    {
                        var check = await probe.GetAsync(kestrelUrl + endpoint.Path, TimeSpan.FromSeconds(30), cancellationToken);
                        if (check.Problem(endpoint.Sha256) is { } problem)
                        {
                            throw new BenchException("bare Kestrel baseline is wrong: " + problem);
                        }
                    }
                }
                catch (BenchException ex)
                {
                    kestrelUnavailable = "bare Kestrel did not start";
                    report.Note("bare Kestrel baseline: " + ex.Message);
                }
            }
            else
            {
                kestrelUnavailable = "no docroot (nginx did not start)";
            }

            foreach (var endpoint in endpoints)
            {
                // One unmeasured run per side first: the mirror's JIT reaches its optimised tier and both sides' caches
                // are hot, so the measured runs compare steady states (as nginx is from its first request).
                await WarmUpAsync("mirror", mirror?.BaseUrl, mirrorUnavailable, endpoint, cancellationToken);
                await WarmUpAsync("nginx", nginx?.BaseUrl, nginxUnavailable, endpoint, cancellationToken);
                await WarmUpAsync("bare Kestrel", kestrelUrl, kestrelUnavailable, endpoint, cancellationToken);
                foreach (var connections in options.Connections)
                {
                    var mirrorSide = await WrkAsync("mirror", mirror?.BaseUrl, mirrorUnavailable, endpoint, connections, cancellationToken);
                    if (mirror is not null && mirrorUnavailable is null && mirror.HasExited)
                    {
                        mirrorUnavailable = "mirror process died";
                        var died = $"the mirror process died during wrk ({endpoint.Name}, {connections} connections). Last output:\n{mirror.Tail(30)}";
                        report.Fail("Mirror under load", died);
                        problems.Add("mirror died under load");
                    }

                    var nginxSide = await WrkAsync("nginx", nginx?.BaseUrl, nginxUnavailable, endpoint, connections, cancellationToken);
                    var kestrelSide = await WrkAsync("bare Kestrel", kestrelUrl, kestrelUnavailable, endpoint, connections, cancellationToken);
                    var row = new ThroughputRow(endpoint.Name, connections, endpoint.Target, mirrorSide, nginxSide, kestrelSide);
                    report.Throughput.Add(row);
                    Console.WriteLine(
                        $"[bench]   {endpoint.Name,-26} c={connections,-4} mirror {Rate(mirrorSide),10}  nginx {Rate(nginxSide),10}  ratio {(row.Ratio is { } r ? $"{r:0.00}x" : "n/a")}  " +
                        $"bare Kestrel {Rate(kestrelSide),10} ({(row.KestrelRatio is { } k ? $"{k:0.00}x" : "n/a")} of nginx)");
                }
            }

            if (mirror is not null)
            {
                RecordPeak(mirror);
            }
        }
        finally
        {
            if (kestrel is not null)
            {
                await kestrel.DisposeAsync();
            }

            if (nginx is not null)
            {
                await nginx.DisposeAsync();
            }

            if (mirror is not null)
            {
                await mirror.DisposeAsync();
            }
        }

        var runErrors = report.Throughput.Count(r => r.Mirror.Error is not null || r.Nginx.Error is not null);
        if (problems.Count == 0 && runErrors == 0)
        {
            report.Ok(Phase, $"{report.Throughput.Count} rows");
        }
        else
        {
            report.Fail(Phase, string.Join("; ", problems.Append($"{runErrors} of {report.Throughput.Count} rows incomplete")) + " (details above)");
        }
    }

    private static string Rate(WrkSide side) => side.Result is { } r
        ? $"{r.RequestsPerSecond:#,0}{(r.Errors is null ? string.Empty : " (errors)")}"
        : "n/a";

    private static string FirstLine(string message) => message.Split('\n')[0];

    private async Task WarmAsync(MirrorServer mirror, IEnumerable<Endpoint> endpoints, CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints)
        {
            var result = await probe.GetAsync(mirror.BaseUrl + endpoint.Path, TimeSpan.FromSeconds(60), cancellationToken);
            if (result.Problem(endpoint.Sha256) is { } problem)
            {
                throw new BenchException($"warm-up failed: {problem}. Mirror output:\n{mirror.Tail(20)}");
            }
        }
    }

    /// <summary>Unmeasured runs at the largest connection count until the side is steady (<see cref="Wrk.WarmUpAsync"/>); noted in the report.</summary>
    private async Task WarmUpAsync(string target, string? baseUrl, string? unavailable, Endpoint endpoint, CancellationToken cancellationToken)
    {
        if (baseUrl is null || unavailable is not null)
        {
            return;
        }

        try
        {
            var rates = await Wrk.WarmUpAsync(baseUrl + endpoint.Path, options.Connections.Max(), options.Pinning, cancellationToken);
            var line = $"warm-up, {endpoint.Name}, {target}: {rates.Count} unmeasured runs ({string.Join(", ", rates.Select(r => r.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture)))} req/s)";
            Console.WriteLine("[bench]   " + line);
            report.Note(line);
        }
        catch (BenchException ex)
        {
            report.Note($"warm-up, {endpoint.Name}, {target}: {FirstLine(ex.Message)}");
        }
    }

    private async Task<WrkSide> WrkAsync(
        string target,
        string? baseUrl,
        string? unavailable,
        Endpoint endpoint,
        int connections,
        CancellationToken cancellationToken,
        int? durationSeconds = null)
    {
        if (baseUrl is null || unavailable is not null)
        {
            return WrkSide.NotRun(unavailable ?? $"{target} not running");
        }

        try
        {
            return new WrkSide(await Wrk.RunAsync(baseUrl + endpoint.Path, connections, durationSeconds ?? options.DurationSeconds, options.Pinning, cancellationToken), null);
        }
        catch (BenchException ex)
        {
            return WrkSide.NotRun(ex.Message);
        }
    }

    private void RecordPeak(MirrorServer mirror)
    {
        const string label = "throughput mirror (warm-up + all wrk runs)";
        try
        {
            mirror.EnsureRunning();
            report.PeakRss.Add(new PeakRss(label, mirror.ReadMemory().PeakRssBytes, null));
        }
        catch (BenchException ex)
        {
            report.PeakRss.Add(new PeakRss(label, null, FirstLine(ex.Message)));
        }
    }

    private sealed record Endpoint(string Name, string Path, byte[] Bytes, string Sha256, double Target);
}
