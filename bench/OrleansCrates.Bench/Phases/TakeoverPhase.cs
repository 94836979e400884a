using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;
using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Phases;

/// <summary>
/// Takeover after a silo dies mid-download: three mirror processes on one Redis-clustered Orleans cluster sharing one
/// storage root; node A is asked for a crate file first (its grain is placed on A) and the fake upstream stalls that
/// download halfway; then A gets <c>kill -9</c> (or <c>kill -STOP</c>: hung, not dead), and clients on B and C ask for
/// the file, retrying on any failure, until one gets a correct 200. The figure is the time from the fault to the first
/// correct 200 on a surviving node, with the server's default membership settings (<c>ClusterDefaults</c>).
/// </summary>
internal sealed partial class TakeoverPhase(BenchOptions options, BenchReport report, HttpProbe probe)
{
    public const string Phase = "Takeover after a silo dies mid-download (3 silos on Redis)";
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(120);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        foreach (var signal in new[] { "KILL", "STOP" })
        {
            try
            {
                await RunOnceAsync(signal, cancellationToken);
            }
            catch (BenchException ex)
            {
                problems.Add($"kill -{signal}: {ex.Message}");
                report.Figure(Phase, $"kill -{signal}: fault → first correct 200 on a survivor", "not measured", ex.Message.Split('\n')[0]);
            }
        }

        if (problems.Count == 0)
        {
            report.Ok(Phase, "kill -9 and SIGSTOP");
        }
        else
        {
            report.Fail(Phase, string.Join("; ", problems));
        }
    }

    private async Task RunOnceAsync(string signal, CancellationToken cancellationToken)
    {
        var graph = CrateGraph.CreateDefault();
        var crate = graph.ExpectedLockedCrates.First();
        var path = $"/crates/{crate.Name}/{Uri.EscapeDataString(crate.Version)}/download";
        await using var redis = await RedisProcess.StartAsync(cancellationToken);
        await using var upstream = await FakeUpstream.StartAsync(graph, null, cancellationToken);
        using var shared = TempDirectory.Create("takeover-store");
        var environment = new Dictionary<string, string>(options.MirrorEnvironment, StringComparer.Ordinal)
        {
            ["Storage__FileSystem__Root"] = shared.Path,
        };
        foreach (var (key, value) in redis.ClusterSettings("takeover-" + signal.ToLowerInvariant()))
        {
            environment[key] = value;
        }

        var nodes = new List<MirrorServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var node = await MirrorServer.StartAsync(options.ServerDll, upstream.IndexUrl, environment, cancellationToken);
                nodes.Add(node);
                await node.WaitUntilReadyAsync(probe, TimeSpan.FromSeconds(60), cancellationToken);
            }

            foreach (var node in nodes)
            {
                await WaitForSilosAsync(node, 3, cancellationToken);
            }

            MirrorServer a = nodes[0], b = nodes[1], c = nodes[2];
            var stall = upstream.AddFault(new FaultRule { PathContains = $"/{crate.Name}/{crate.Version}/download", Kind = FaultKind.Stall, Times = 1 });
            var viaA = probe.GetAsync(a.BaseUrl + path, TimeSpan.FromSeconds(30), cancellationToken);
            if (await Task.WhenAny(stall.Stalled, Task.Delay(TimeSpan.FromSeconds(30), cancellationToken)) != stall.Stalled)
            {
                throw new BenchException($"node A never started the upstream download of {crate.Name} {crate.Version}");
            }

            var (code, _, stderr) = await ChildProcess.RunAsync("kill", "kill", [$"-{signal}", a.ProcessId.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10), cancellationToken);
            var sinceFault = Stopwatch.StartNew();
            if (code != 0)
            {
                throw new BenchException($"kill -{signal} {a.ProcessId} failed: {stderr}");
            }

            // Two clients per survivor, each retrying until it has the right bytes.
            var clients = new[] { b, c, b, c }.Select(node => UntilCorrectAsync(node.BaseUrl + path, crate.Sha256, sinceFault, cancellationToken)).ToList();
            var results = await Task.WhenAll(clients);
            var served = results.Where(r => r.At is not null).Select(r => r.At!.Value).Order().ToList();
            var wrong = results.Sum(r => r.WrongBodies);
            var attempts = results.Sum(r => r.Attempts);
            var label = signal == "KILL" ? "kill -9" : "SIGSTOP (hung)";
            if (served.Count == 0)
            {
                throw new BenchException($"no survivor served the file within {GiveUpAfter.TotalSeconds:0} s of the fault (last: {results[0].Last})");
            }

            report.Figure(
                Phase,
                $"{label}: fault → first correct 200 on a survivor",
                $"{served[0].TotalSeconds:0.0} s",
                $"4 retrying clients on B and C: all served by {served[^1].TotalSeconds:0.0} s, {served.Count}/4 served, {attempts} requests, " +
                $"{wrong} wrong or partial bodies; upstream downloads of the file: {upstream.Downloads(crate.Name, crate.Version)}; A's own client: {Describe(await viaA)}");
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static string Describe(ProbeResult result) =>
        result.Error is not null ? "connection error / no answer" : $"HTTP {(int?)result.Status}";

    private async Task<ClientResult> UntilCorrectAsync(string url, string sha256, Stopwatch sinceFault, CancellationToken cancellationToken)
    {
        var attempts = 0;
        var wrong = 0;
        var last = "no attempt";
        while (sinceFault.Elapsed < GiveUpAfter)
        {
            attempts++;
            var result = await probe.GetAsync(url, GiveUpAfter - sinceFault.Elapsed, cancellationToken);
            if (result.Problem(sha256) is not { } problem)
            {
                return new ClientResult(sinceFault.Elapsed, attempts, wrong, "ok");
            }

            if (result.Error is null && result.Status == System.Net.HttpStatusCode.OK)
            {
                wrong++;
            }

            last = problem;
            // A client retrying (as cargo would after a 503 or a dropped connection), not a synchronisation.
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }

        return new ClientResult(null, attempts, wrong, last);
    }

    private async Task WaitForSilosAsync(MirrorServer node, int expected, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var seen = "nothing";
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            var body = await probe.GetTextAsync(node.BaseUrl + "/health/ready", TimeSpan.FromSeconds(10), cancellationToken);
            if (body is not null && ActiveSilosRegex().Match(body) is { Success: true } match)
            {
                seen = match.Groups[1].Value;
                if (int.Parse(seen, CultureInfo.InvariantCulture) >= expected)
                {
                    return;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }

        throw new BenchException($"{node.BaseUrl} saw {seen} active silos, not {expected}, within 60 s");
    }

    [GeneratedRegex("\"activeSilos\"\\s*:\\s*(\\d+)")]
    private static partial Regex ActiveSilosRegex();

    private sealed record ClientResult(TimeSpan? At, int Attempts, int WrongBodies, string Last);
}
