using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansCrates.Bench.Grains;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// What one grain call costs, without HTTP: two real silos (TCP between them, as between mirror processes) in the
/// bench process, and a grain with the crate grain's index-call shape answered from memory. Local: called from the
/// silo it lives on (what a mirror node pays when the crate's grain is its own). Remote: the same grain called from the
/// other silo (serialization + a loopback TCP round trip). Reported as µs per call one at a time, and calls/s with
/// many in flight.
/// </summary>
internal sealed class GrainCallPhase(BenchReport report)
{
    public const string Phase = "Grain call cost (two in-process silos)";

    private const int Sequential = 20_000;
    private const int Concurrent = 64;
    private const int ConcurrentCalls = 100_000;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var ports = MirrorProcess.FreePorts(4);
        var primaryPort = ports[0];
        using var a = await StartSiloAsync(primaryPort, ports[1], null, cancellationToken);
        using var b = await StartSiloAsync(ports[2], ports[3], new IPEndPoint(IPAddress.Loopback, primaryPort), cancellationToken);
        try
        {
            var fromA = a.Services.GetRequiredService<IGrainFactory>();
            var fromB = b.Services.GetRequiredService<IGrainFactory>();
            var onA = fromA.GetGrain<IBenchIndexGrain>("on-a");
            var siloA = await onA.SiloAsync();
            var siloB = await fromB.GetGrain<IBenchIndexGrain>("on-b").SiloAsync();
            var seenFromB = await fromB.GetGrain<IBenchIndexGrain>("on-a").SiloAsync();
            if (siloA == siloB || seenFromB != siloA)
            {
                throw new BenchException($"placement is not as expected: on-a lives on {siloA}, on-b on {siloB}, on-a seen from B on {seenFromB}");
            }

            var local = await MeasureAsync(onA, cancellationToken);
            var remote = await MeasureAsync(fromB.GetGrain<IBenchIndexGrain>("on-a"), cancellationToken);
            Record("local (caller's silo)", local);
            Record("remote (other silo, loopback TCP)", remote);
            report.Ok(Phase, $"local {local.MicrosecondsPerCall:0.0} µs/call, remote {remote.MicrosecondsPerCall:0.0} µs/call");
        }
        finally
        {
            await b.StopAsync(CancellationToken.None);
            await a.StopAsync(CancellationToken.None);
        }
    }

    private void Record(string where, Measurement m)
    {
        report.Figure(Phase, $"grain call, {where}, one at a time", $"{m.MicrosecondsPerCall:0.0} µs/call",
            $"{Sequential:#,0} sequential calls after {Sequential / 10:#,0} warm-up calls, p50 {m.P50Microseconds:0.0} µs, p99 {m.P99Microseconds:0.0} µs");
        report.Figure(Phase, $"grain call, {where}, {Concurrent} in flight", $"{m.CallsPerSecond:#,0} calls/s",
            $"{ConcurrentCalls:#,0} calls by {Concurrent} loops; bench process and both silos share the machine's cores");
    }

    private static async Task<Measurement> MeasureAsync(IBenchIndexGrain grain, CancellationToken cancellationToken)
    {
        for (var i = 0; i < Sequential / 10; i++)
        {
            await grain.GetIndexAsync(null, cancellationToken);
        }

        var each = new double[Sequential];
        var total = Stopwatch.StartNew();
        for (var i = 0; i < Sequential; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await grain.GetIndexAsync(null, cancellationToken);
            each[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        var sequential = total.Elapsed;
        Array.Sort(each);

        var remaining = ConcurrentCalls;
        var concurrent = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Concurrent).Select(async _ =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                await grain.GetIndexAsync(null, cancellationToken);
            }
        }));
        var concurrentElapsed = concurrent.Elapsed;

        return new Measurement(
            sequential.TotalMicroseconds / Sequential,
            each[Sequential / 2],
            each[(int)(Sequential * 0.99)],
            ConcurrentCalls / concurrentElapsed.TotalSeconds);
    }

    private static async Task<IHost> StartSiloAsync(int siloPort, int gatewayPort, IPEndPoint? primary, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort, gatewayPort, primary, "bench", "bench-grain-calls"));
        var host = builder.Build();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            await host.StartAsync(timeout.Token);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[bench] silo up on 127.0.0.1:{siloPort}{(primary is null ? " (primary)" : string.Empty)}"));
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private sealed record Measurement(double MicrosecondsPerCall, double P50Microseconds, double P99Microseconds, double CallsPerSecond);
}
