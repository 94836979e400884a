using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// Memory of a silo holding many crate grains: one mirror (its own one-silo cluster), asked for the index files of
/// <c>--activations</c> distinct crate names the fake upstream does not know (404: one crate grain each, nothing
/// stored). VmRSS before, with the grains active, and after they are collected. The server collects idle crate grains
/// after <c>Cluster:GrainCollection:CrateGrainAge</c> (5 min by default); rather than wait, collection is forced through
/// Orleans' management grain (<c>ForceActivationCollection</c>) from an Orleans client connected to the mirror's gateway.
/// </summary>
internal sealed partial class ActivationMemoryPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    public const string Phase = "Crate grain activations and memory (one silo)";
    private const int Workers = 32;
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);

    public async Task RunAsync(CrateGraph graph, SyntheticCrate unrelated, CancellationToken cancellationToken)
    {
        var count = options.Activations;
        await using var upstream = await FakeUpstream.StartAsync(graph.With(unrelated), null, cancellationToken);
        var ports = MirrorProcess.FreePorts(2);
        var gatewayPort = ports[1];
        var environment = new Dictionary<string, string>(options.MirrorEnvironment, StringComparer.Ordinal)
        {
            ["Cluster__SiloPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["Cluster__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
        };
        await using var mirror = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, environment, cancellationToken);
        await mirror.WaitUntilReadyAsync(probe, TimeSpan.FromSeconds(60), cancellationToken);
        var warm = await probe.GetAsync($"{mirror.BaseUrl}/crates/{unrelated.Name}/{unrelated.Version}/download", TimeSpan.FromSeconds(60), cancellationToken);
        if (warm.Problem(unrelated.Sha256) is { } warmProblem)
        {
            throw new BenchException("warm-up failed: " + warmProblem);
        }

        var before = mirror.ReadMemory();
        var grainsBefore = await CrateActivationsAsync(mirror, cancellationToken);

        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(Bound);
        var statuses = new int[600];
        var failures = 0;
        var next = -1;
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Workers, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = TimeSpan.FromSeconds(60),
        };
        var activating = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"bench-grain-{i:D6}");
                try
                {
                    using var response = await client.GetAsync($"{mirror.BaseUrl}/index/{RegistryPaths.IndexPath(name)}", bound.Token);
                    Interlocked.Increment(ref statuses[Math.Clamp((int)response.StatusCode, 0, statuses.Length - 1)]);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        var activationTime = activating.Elapsed;
        if (bound.IsCancellationRequested)
        {
            throw new BenchException($"activating {count:#,0} crate grains took longer than {Bound.TotalMinutes:0} min");
        }

        mirror.EnsureRunning();
        var active = mirror.ReadMemory();
        var grainsActive = await CrateActivationsAsync(mirror, cancellationToken);
        var answered = string.Join(", ", statuses.Select((n, s) => (n, s)).Where(p => p.n > 0).Select(p => $"{p.n:#,0}× {p.s}"));

        // Collection, forced through the management grain (the server has no collection-age setting).
        var collecting = Stopwatch.StartNew();
        await ForceCollectionAsync(gatewayPort, cancellationToken);
        var collectionTime = collecting.Elapsed;
        var grainsAfter = await CrateActivationsAsync(mirror, cancellationToken);
        var afterCollection = mirror.ReadMemory();

        // The freed objects leave RSS only when the server's GC runs and returns memory: watch it for a while.
        var lowest = afterCollection.RssBytes;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            lowest = Math.Min(lowest, mirror.ReadMemory().RssBytes);
        }

        var settled = mirror.ReadMemory();
        var perGrain = grainsActive is { } g && grainsBefore is { } g0 && g > g0 ? (active.RssBytes - before.RssBytes) / (double)(g - g0) : (double?)null;
        report.Figure(Phase, "VmRSS before (warmed-up silo)", Mib(before.RssBytes), $"crate activations: {Count(grainsBefore)}");
        report.Figure(Phase, $"VmRSS with {count:#,0} crate grains active", Mib(active.RssBytes),
            $"crate activations: {Count(grainsActive)}; {count:#,0} index requests answered {answered}{(failures > 0 ? $", {failures} failed" : string.Empty)} in {activationTime.TotalSeconds:0.0} s " +
            $"({count / activationTime.TotalSeconds:#,0} req/s, {Workers} connections); " +
            $"{(perGrain is { } p ? $"{p / 1024:0.0} KB RSS per activation; " : string.Empty)}peak VmHWM {Mib(active.PeakRssBytes)}");
        report.Figure(Phase, "VmRSS right after forced collection", Mib(afterCollection.RssBytes),
            $"ForceActivationCollection(0) took {collectionTime.TotalSeconds:0.0} s; crate activations after: {Count(grainsAfter)}");
        report.Figure(Phase, "VmRSS 30 s after collection", Mib(settled.RssBytes), $"lowest seen in those 30 s: {Mib(lowest)} (the server's GC decides when memory is returned)");
        report.Ok(Phase, $"{count:#,0} activations: {Mib(before.RssBytes)} → {Mib(active.RssBytes)} → {Mib(settled.RssBytes)} after collection");
    }

    private static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024.0):0} MiB");

    private static string Count(int? n) => n is { } value ? value.ToString("#,0", CultureInfo.InvariantCulture) : "n/a";

    /// <summary>The crate grains the silo reports on <c>/api/v1/cluster</c>, or null.</summary>
    private async Task<int?> CrateActivationsAsync(MirrorServer mirror, CancellationToken cancellationToken)
    {
        var body = await probe.GetTextAsync(mirror.BaseUrl + "/api/v1/cluster", TimeSpan.FromSeconds(30), cancellationToken);
        return body is not null && CrateActivationsRegex().Match(body) is { Success: true } match
            ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
            : null;
    }

    private static async Task ForceCollectionAsync(int gatewayPort, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        // The server's default ServiceId and ClusterId (Cluster:ServiceId, Cluster:ClusterId).
        builder.UseOrleansClient(c => c.UseLocalhostClustering(gatewayPort, "orleanscrates", "orleanscrates"));
        using var host = builder.Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        await host.StartAsync(timeout.Token);
        try
        {
            var management = host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
            await management.ForceActivationCollection(TimeSpan.Zero).WaitAsync(timeout.Token);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [GeneratedRegex("\"crateActivations\"\\s*:\\s*(\\d+)")]
    private static partial Regex CrateActivationsRegex();
}
