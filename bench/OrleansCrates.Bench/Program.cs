using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using OrleansCrates.Bench;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Phases;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

[assembly: SupportedOSPlatform("linux")]

if (args is [KestrelBaseline.Argument, var docroot])
{
    // The throughput phase's third server: a bare Kestrel on the same bytes (see KestrelBaseline).
    return await KestrelBaseline.ServeAsync(docroot);
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}\n\n{BenchOptions.Usage}");
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

using var cancellation = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    // Unwind through the phases' finally blocks so that every child process and temp directory is cleaned up.
    context.Cancel = true;
    Console.Error.WriteLine($"[bench] {context.Signal}: stopping and cleaning up ...");
    cancellation.Cancel();
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

var report = new BenchReport();
var stopwatch = Stopwatch.StartNew();
await Preflight.DescribeEnvironmentAsync(report, options, cancellation.Token);

using var probe = new HttpProbe();
var graph = CrateGraph.CreateDefault();
var payload = CrateGraph.BuildCrate("bench-payload", "1.0.0", paddingBytes: 200 * 1024);
var benchGraph = graph.With(payload);

try
{
    await RunPhaseAsync(
        "Throughput (wrk, mirror vs nginx)",
        options.SkipThroughput ? "--skip-throughput" : Preflight.MissingTools("wrk", "nginx"),
        () => new ThroughputPhase(options, report, probe).RunAsync(benchGraph, payload, cancellation.Token));
    await RunPhaseAsync(
        FeatureCostPhase.Phase,
        options.SkipFeatures ? "--skip-features" : Preflight.MissingTools("wrk"),
        () => new FeatureCostPhase(options, report, probe).RunAsync(benchGraph, payload, cancellation.Token));
    await RunPhaseAsync(
        "Cold cargo fetch",
        options.SkipCargo ? "--skip-cargo" : null,
        () => new CargoFetchPhase(options, report, probe).RunAsync(graph, payload, cancellation.Token));
    await RunPhaseAsync(
        "400 MB crate memory",
        options.SkipBig ? "--skip-big" : null,
        () => new BigCrateMemoryPhase(options, report, probe).RunAsync(benchGraph, cancellation.Token));
    await RunPhaseAsync(
        BuildStormPhase.Phase,
        options.SkipStorm ? "--skip-storm" : null,
        () => new BuildStormPhase(options, report, probe).RunAsync(graph, payload, cancellation.Token));
    await RunPhaseAsync(
        StorageComparePhase.Phase,
        options.SkipStorageCompare ? "--skip-storage-compare" : Preflight.MissingTools("wrk"),
        () => new StorageComparePhase(options, report, probe).RunAsync(benchGraph, payload, cancellation.Token));
    await RunPhaseAsync(
        GrainCallPhase.Phase,
        options.SkipGrainCall ? "--skip-grain-call" : null,
        () => new GrainCallPhase(report).RunAsync(cancellation.Token));
    await RunPhaseAsync(
        TakeoverPhase.Phase,
        options.SkipTakeover ? "--skip-takeover" : null,
        () => new TakeoverPhase(options, report, probe).RunAsync(cancellation.Token));
    await RunPhaseAsync(
        ActivationMemoryPhase.Phase,
        options.SkipActivations ? "--skip-activations" : null,
        () => new ActivationMemoryPhase(options, report, probe).RunAsync(graph, payload, cancellation.Token));
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    report.Note("the benchmark was interrupted; the figures below are partial.");
}

var markdown = MarkdownRenderer.Render(report, options, stopwatch.Elapsed);
Console.WriteLine();
Console.WriteLine(markdown);
try
{
    Directory.CreateDirectory(options.OutputDirectory);
    var path = Path.Combine(options.OutputDirectory, $"results-{report.StartedAt:yyyyMMdd-HHmmss}.md");
    await File.WriteAllTextAsync(path, markdown, CancellationToken.None);
    Console.WriteLine($"[bench] results written to {path}");
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"[bench] could not write the results file: {ex.Message}");
}

return cancellation.IsCancellationRequested ? 130 : report.AnyPhaseFailed ? 1 : 0;

async Task RunPhaseAsync(string phase, string? skipReason, Func<Task> run)
{
    cancellation.Token.ThrowIfCancellationRequested();
    if (skipReason is not null)
    {
        report.Skip(phase, skipReason);
        return;
    }

    Console.WriteLine($"[bench] === {phase} ===");
    try
    {
        await run();
    }
    catch (BenchException ex)
    {
        report.Fail(phase, ex.Message);
    }
    catch (Exception ex) when (ex is not OperationCanceledException || !cancellation.IsCancellationRequested)
    {
        report.Fail(phase, $"unexpected {ex.GetType().Name}: {ex}");
    }
}
