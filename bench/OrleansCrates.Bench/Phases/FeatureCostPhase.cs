using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// What the mirror's per-request features cost on the warm download path: one mirror with statistics, metrics (a
/// <c>/metrics</c> scrape first, so the listener is attached), read access control (<c>Mirror:ReadRequiresToken</c>,
/// wrk sending a read token) and a policy (a deny list, so every download is checked) all on, one with statistics
/// off, no policy and open reads, same build and upstream. Both warmed up until steady (<see cref="Wrk.WarmUpAsync"/>); then
/// <see cref="Runs"/> wrk runs each, alternating, at 64 connections; the figure is the median on/off ratio.
/// </summary>
internal sealed class FeatureCostPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    public const string Phase = "Feature cost (warm download, features on vs off)";
    private const int Runs = 3;
    private const int Connections = 64;

    public async Task RunAsync(CrateGraph graph, SyntheticCrate payload, CancellationToken cancellationToken)
    {
        await using var upstream = await FakeUpstream.StartAsync(graph, null, cancellationToken);
        var on = new Dictionary<string, string>(options.MirrorEnvironment, StringComparer.Ordinal)
        {
            ["Mirror__ReadRequiresToken"] = "true",
            ["Mirror__Policy__Deny__0"] = "bench-denied-*",
            ["Statistics__Enabled"] = "true",
        };
        var off = new Dictionary<string, string>(options.MirrorEnvironment, StringComparer.Ordinal)
        {
            ["Statistics__Enabled"] = "false",
        };

        await using var withFeatures = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, on, cancellationToken, options.Pinning);
        await using var without = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, off, cancellationToken, options.Pinning);
        var token = await CreateReadTokenAsync(withFeatures.StorageRoot, cancellationToken);
        var header = "Authorization: " + token;
        var path = $"/crates/{payload.Name}/{payload.Version}/download";

        var scrape = await probe.GetAsync(withFeatures.BaseUrl + "/metrics", TimeSpan.FromSeconds(30), cancellationToken);
        if (!scrape.IsOk)
        {
            report.Note($"feature cost: /metrics did not answer 200 ({scrape.Error ?? scrape.Status?.ToString()}).");
        }

        await Wrk.WarmUpAsync(withFeatures.BaseUrl + path, Connections, options.Pinning, cancellationToken, header);
        await Wrk.WarmUpAsync(without.BaseUrl + path, Connections, options.Pinning, cancellationToken);
        for (var run = 1; run <= Runs; run++)
        {
            var withResult = await SideAsync(withFeatures.BaseUrl + path, header, cancellationToken);
            var withoutResult = await SideAsync(without.BaseUrl + path, null, cancellationToken);
            var row = new FeatureRun(run, withResult, withoutResult);
            report.Features.Add(row);
            Console.WriteLine($"[bench]   run {run}: features on {Rate(withResult)}, off {Rate(withoutResult)} req/s, ratio {(row.Ratio is { } r ? $"{r:0.00}x" : "n/a")}");
        }

        if (report.FeatureMedian is { } median)
        {
            report.Ok(Phase, $"median on/off {median:0.00}x over {Runs} runs");
        }
        else
        {
            var why = report.Features
                .SelectMany(f => new[] { ("on", f.Run, f.On), ("off", f.Run, f.Off) })
                .Where(x => x.Item3.Error is not null || x.Item3.Result?.Errors is not null)
                .Select(x => $"run {x.Item2} {x.Item1}: {x.Item3.Error ?? x.Item3.Result?.Errors}");
            report.Fail(Phase, "a run failed or had errors: " + string.Join("; ", why));
        }
    }

    private async Task<WrkSide> SideAsync(string url, string? header, CancellationToken cancellationToken)
    {
        try
        {
            // A long per-request timeout: on a loaded machine wrk's 2 s would turn slow answers into errors on both sides.
            return new WrkSide(await Wrk.RunAsync(url, Connections, options.DurationSeconds, options.Pinning, cancellationToken, header, timeoutSeconds: 30), null);
        }
        catch (BenchException ex)
        {
            return WrkSide.NotRun(ex.Message);
        }
    }

    private static string Rate(WrkSide side) => side.Result is { } r ? $"{r.RequestsPerSecond:#,0}{(r.Errors is null ? string.Empty : " (errors)")}" : "n/a";

    private async Task<string> CreateReadTokenAsync(string storageRoot, CancellationToken cancellationToken)
    {
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync(
            "token create",
            "dotnet",
            [options.CliDll, "token", "create", "--user", "bench", "--scope", "read"],
            TimeSpan.FromMinutes(2),
            cancellationToken,
            new Dictionary<string, string?> { ["Storage__FileSystem__Root"] = storageRoot });
        if (exitCode != 0)
        {
            throw new BenchException($"token create failed ({exitCode}): {stderr.Trim()}");
        }

        return stdout.Trim();
    }
}
