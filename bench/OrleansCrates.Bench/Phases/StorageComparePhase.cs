using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// Warm hits with Azure Blob storage vs filesystem storage: one mirror on a fresh Azurite container and one on a fresh
/// storage root, both warmed (every file fetched, then read back, so it sits in the node's hot layer), then wrk on
/// the 200 KB crate and its index file at each connection count, Azure and filesystem back to back. The hot layers
/// serve both, so the figures should be close.
/// </summary>
internal sealed class StorageComparePhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    public const string Phase = "Warm hits: Azure Blob vs filesystem storage (wrk)";

    public async Task RunAsync(CrateGraph graph, SyntheticCrate payload, CancellationToken cancellationToken)
    {
        var indexBytes = graph.IndexFileFor(payload.Name) ?? throw new BenchException($"{payload.Name} is not in the graph");
        var endpoints = new[]
        {
            ($"download ({payload.CrateBytes.Length / 1024} KB crate)", $"/crates/{payload.Name}/{payload.Version}/download", payload.Sha256),
            ("index file", "/index/" + payload.IndexPath, HttpProbe.Sha256Hex(indexBytes)),
        };

        await using var upstream = await FakeUpstream.StartAsync(graph, null, cancellationToken);
        await using var azurite = await AzuriteStorage.StartAsync(cancellationToken);
        var azureEnvironment = AzuriteStorage.Environment(azurite, AzuriteProcess.NewContainerName("warm"), options.MirrorEnvironment);
        await using var azure = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, azureEnvironment, cancellationToken, options.Pinning);
        await using var fileSystem = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, options.MirrorEnvironment, cancellationToken, options.Pinning);
        Console.WriteLine($"[bench] Azure-backed mirror at {azure.BaseUrl} (pid {azure.ProcessId}); filesystem-backed mirror at {fileSystem.BaseUrl} (pid {fileSystem.ProcessId})");
        foreach (var mirror in new[] { azure, fileSystem })
        {
            await mirror.WaitUntilReadyAsync(probe, TimeSpan.FromSeconds(60), cancellationToken);
            foreach (var (_, path, sha256) in endpoints)
            {
                // Twice: the first fetches from upstream into storage, the second is a plain warm hit.
                for (var i = 0; i < 2; i++)
                {
                    var result = await probe.GetAsync(mirror.BaseUrl + path, TimeSpan.FromSeconds(60), cancellationToken);
                    if (result.Problem(sha256) is { } problem)
                    {
                        throw new BenchException($"warm-up failed: {problem}. Mirror output:\n{mirror.Tail(20)}");
                    }
                }
            }
        }

        foreach (var (name, path, _) in endpoints)
        {
            foreach (var mirror in new[] { azure, fileSystem })
            {
                await Wrk.WarmUpAsync(mirror.BaseUrl + path, options.Connections.Max(), options.Pinning, cancellationToken);
            }

            foreach (var connections in options.Connections)
            {
                var azureSide = await WrkAsync(azure, path, connections, cancellationToken);
                var fileSystemSide = await WrkAsync(fileSystem, path, connections, cancellationToken);
                var row = new StorageCompareRow(name, connections, azureSide, fileSystemSide);
                report.StorageCompare.Add(row);
                Console.WriteLine(
                    $"[bench]   {name,-26} c={connections,-4} azure {Rate(azureSide),10}  filesystem {Rate(fileSystemSide),10}  ratio {(row.Ratio is { } r ? $"{r:0.00}x" : "n/a")}");
            }
        }

        var died = new[] { ("Azure-backed", azure), ("filesystem-backed", fileSystem) }.Where(m => m.Item2.HasExited).Select(m => m.Item1).ToList();
        var incomplete = report.StorageCompare.Count(r => r.Ratio is null);
        if (died.Count == 0 && incomplete == 0)
        {
            report.Ok(Phase, $"{report.StorageCompare.Count} rows");
        }
        else
        {
            report.Fail(Phase, string.Join("; ", died.Select(d => $"the {d} mirror died").Append($"{incomplete} of {report.StorageCompare.Count} rows incomplete")));
        }
    }

    private async Task<WrkSide> WrkAsync(MirrorServer mirror, string path, int connections, CancellationToken cancellationToken)
    {
        if (mirror.HasExited)
        {
            return WrkSide.NotRun("mirror process died");
        }

        try
        {
            return new WrkSide(await Wrk.RunAsync(mirror.BaseUrl + path, connections, options.DurationSeconds, options.Pinning, cancellationToken), null);
        }
        catch (BenchException ex)
        {
            return WrkSide.NotRun(ex.Message);
        }
    }

    private static string Rate(WrkSide side) => side.Result is { } r
        ? $"{r.RequestsPerSecond:#,0}{(r.Errors is null ? string.Empty : " (errors)")}"
        : "n/a";
}
