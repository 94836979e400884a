using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// The build storm: for each node count N, a fresh fake upstream, a fresh Azurite container and N fresh mirror
/// processes sharing it; then K cold clients (round-robin over the nodes) each request the same F files at once — the
/// index files and crate files a build of the default graph needs. Reports the fake upstream's requests per file
/// (must be 1: one fetch per file for the whole cluster), p50/p99 request latency and throughput.
/// </summary>
internal sealed class BuildStormPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    public const string Phase = "Build storm (cold clients across nodes on Azurite)";
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(2);

    /// <param name="graph">The crates the storm requests from (the default graph).</param>
    /// <param name="unrelated">A crate outside the storm's files, used only to warm each fresh mirror process up (JIT).</param>
    public async Task RunAsync(CrateGraph graph, SyntheticCrate unrelated, CancellationToken cancellationToken)
    {
        var files = StormFiles(graph, options.StormCrates);
        Console.WriteLine(
            $"[bench] {options.StormClients} clients × {files.Count} files ({files.Count(f => f.Kind == FileKind.Crate)} crate files + " +
            $"{files.Count(f => f.Kind == FileKind.Index)} index files) per storm; nodes: {string.Join(", ", options.StormNodes)}");

        await using var azurite = await AzuriteStorage.StartAsync(cancellationToken);
        foreach (var nodes in options.StormNodes)
        {
            var row = await StormAsync(azurite, graph.With(unrelated), unrelated, files, nodes, cancellationToken);
            report.Storm.Add(row);
            Console.WriteLine($"[bench]   {nodes} node(s): {Describe(row)}");
        }

        var broken = report.Storm.Where(r => r.Problem is not null || r.Failed > 0).ToList();
        if (broken.Count == 0)
        {
            report.Ok(Phase, $"{report.Storm.Count} storms of {options.StormClients} clients × {files.Count} files");
        }
        else
        {
            report.Fail(Phase, string.Join("; ", broken.Select(r => $"{r.Nodes} node(s): {r.Problem ?? $"{r.Failed} of {r.Requests} requests failed, e.g. {r.FirstFailure}"}")));
        }
    }

    private async Task<StormRow> StormAsync(
        AzuriteProcess azurite,
        CrateGraph upstreamGraph,
        SyntheticCrate unrelated,
        IReadOnlyList<StormFile> files,
        int nodeCount,
        CancellationToken cancellationToken)
    {
        // The nodes are silos of one Orleans cluster on a Redis of its own (stopped after them).
        await using var redis = await RedisProcess.StartAsync(cancellationToken);
        await using var upstream = await FakeUpstream.StartAsync(upstreamGraph, null, cancellationToken);
        var environment = new Dictionary<string, string>(AzuriteStorage.Environment(azurite, AzuriteProcess.NewContainerName($"storm-n{nodeCount}"), options.MirrorEnvironment));
        foreach (var (key, value) in redis.ClusterSettings($"storm-n{nodeCount}"))
        {
            environment[key] = value;
        }

        // One after another: silos joining at once on a busy machine take far longer.
        var starting = new List<Task<MirrorServer>>();
        foreach (var _ in Enumerable.Range(0, nodeCount))
        {
            var start = MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, environment, cancellationToken);
            starting.Add(start);
            try
            {
                await start;
            }
            catch (BenchException)
            {
                break;
            }
        }

        try
        {
            MirrorServer[] nodes;
            try
            {
                nodes = await Task.WhenAll(starting);
            }
            catch (BenchException ex)
            {
                return StormRow.NotRun(nodeCount, options.StormClients, files.Count, "a mirror did not start: " + ex.Message);
            }

            foreach (var node in nodes)
            {
                await node.WaitUntilReadyAsync(probe, TimeSpan.FromSeconds(60), cancellationToken);
                if (await WarmUpAsync(node, unrelated, cancellationToken) is { } problem)
                {
                    return StormRow.NotRun(nodeCount, options.StormClients, files.Count, $"warm-up of {node.BaseUrl} failed: {problem}\n{node.Tail(20)}");
                }
            }

            return await FireAsync(nodes, upstream, files, cancellationToken);
        }
        catch (BenchException ex)
        {
            return StormRow.NotRun(nodeCount, options.StormClients, files.Count, ex.Message);
        }
        finally
        {
            foreach (var start in starting)
            {
                try
                {
                    await (await start).DisposeAsync();
                }
                catch (Exception ex) when (ex is BenchException or OperationCanceledException)
                {
                    // Never started: nothing to stop.
                }
            }
        }
    }

    /// <summary>Every client's requests at once; one HttpClient with at most K connections per node.</summary>
    private async Task<StormRow> FireAsync(IReadOnlyList<MirrorServer> nodes, FakeUpstream upstream, IReadOnlyList<StormFile> files, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = options.StormClients,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

        var stopwatch = Stopwatch.StartNew();
        var requests = new List<Task<Sample>>(options.StormClients * files.Count);
        for (var c = 0; c < options.StormClients; c++)
        {
            var node = nodes[c % nodes.Count];
            foreach (var file in files)
            {
                requests.Add(FetchAsync(client, node.BaseUrl + file.Path, file, cancellationToken));
            }
        }

        var samples = await Task.WhenAll(requests);
        var wall = stopwatch.Elapsed;

        var latencies = samples.Select(s => s.Elapsed).Order().ToList();
        var failures = samples.Where(s => s.Problem is not null).ToList();
        var upstreamPerFile = files.ToDictionary(f => f.Label, f => f.UpstreamRequests(upstream), StringComparer.Ordinal);
        foreach (var node in nodes.Where(n => n.HasExited))
        {
            failures.Add(new Sample(TimeSpan.Zero, 0, $"node {node.BaseUrl} died during the storm:\n{node.Tail(20)}"));
        }

        return new StormRow(
            nodes.Count,
            options.StormClients,
            files.Count,
            samples.Length,
            failures.Count,
            failures.FirstOrDefault()?.Problem,
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.99),
            wall,
            samples.Sum(s => s.Bytes),
            upstreamPerFile,
            null);
    }

    private static async Task<Sample> FetchAsync(HttpClient client, string url, StormFile file, CancellationToken cancellationToken)
    {
        // Every request starts on its own so that the whole storm is in flight at once.
        await Task.Yield();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        var stopwatch = Stopwatch.StartNew();
        try
        {
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseContentRead, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            var elapsed = stopwatch.Elapsed;
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return new Sample(elapsed, body.Length, $"GET {url}: HTTP {(int)response.StatusCode}");
            }

            var sha256 = Convert.ToHexStringLower(SHA256.HashData(body));
            return new Sample(elapsed, body.Length, sha256 == file.Sha256 ? null : $"GET {url}: sha256 {sha256} ({body.Length} bytes), expected {file.Sha256}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Sample(stopwatch.Elapsed, 0, $"GET {url}: no complete response within {RequestTimeout.TotalSeconds:0} s");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return new Sample(stopwatch.Elapsed, 0, $"GET {url}: {ex.Message}");
        }
    }

    private async Task<string?> WarmUpAsync(MirrorServer mirror, SyntheticCrate unrelated, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(60);
        var index = await probe.GetAsync(mirror.IndexUrl + unrelated.IndexPath, timeout, cancellationToken);
        if (!index.IsOk)
        {
            return $"GET {index.Url}: {index.Error ?? $"HTTP {(int?)index.Status}"}";
        }

        var download = await probe.GetAsync($"{mirror.BaseUrl}/crates/{unrelated.Name}/{unrelated.Version}/download", timeout, cancellationToken);
        return download.Problem(unrelated.Sha256);
    }

    /// <summary>
    /// The crate files a build of the default graph locks first (then others), <paramref name="crates"/> of them, plus the
    /// index file of every crate among them.
    /// </summary>
    private static List<StormFile> StormFiles(CrateGraph graph, int crates)
    {
        var locked = graph.ExpectedLockedCrates;
        var chosen = locked.Concat(graph.Crates.Where(c => !locked.Contains(c))).Take(crates).ToList();
        var files = chosen
            .Select(c => c.IndexPath)
            .Distinct(StringComparer.Ordinal)
            .Select(indexPath =>
            {
                var name = chosen.First(c => c.IndexPath == indexPath).Name;
                var bytes = graph.IndexFileFor(name)!;
                return new StormFile(
                    FileKind.Index,
                    "/index/" + indexPath,
                    "index " + indexPath,
                    HttpProbe.Sha256Hex(bytes),
                    upstream => upstream.IndexRequests(name));
            })
            .ToList();
        files.AddRange(chosen.Select(c => new StormFile(
            FileKind.Crate,
            $"/crates/{c.Name}/{Uri.EscapeDataString(c.Version)}/download",
            $"{c.Name} {c.Version}",
            c.Sha256,
            upstream => upstream.Downloads(c.Name, c.Version))));
        return files;
    }

    private static TimeSpan? Percentile(IReadOnlyList<TimeSpan> sorted, double quantile) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string Describe(StormRow row)
    {
        if (row.Problem is not null)
        {
            return "FAILED: " + row.Problem.Split('\n')[0];
        }

        var once = row.OncePerFile
            ? $"upstream: every file once ({row.UpstreamPerFile.Count} files)"
            : $"upstream: {row.NotFetchedOnce.Count} files NOT once ({string.Join(", ", row.NotFetchedOnce.Take(3).Select(f => $"{f.Key}: {f.Value}"))})";
        return $"{row.Requests} requests, {row.Failed} failed, p50 {row.LatencyP50?.TotalMilliseconds:0.0} ms, p99 {row.LatencyP99?.TotalMilliseconds:0.0} ms, " +
            $"{row.RequestsPerSecond:#,0} req/s, {row.MegabytesPerSecond:0.00} MB/s, wall {row.Wall.TotalSeconds:0.00} s; {once}";
    }

    private enum FileKind
    {
        Index,
        Crate,
    }

    private sealed record StormFile(FileKind Kind, string Path, string Label, string Sha256, Func<FakeUpstream, int> UpstreamRequests);

    private sealed record Sample(TimeSpan Elapsed, long Bytes, string? Problem);
}
