using System.Globalization;
using OrleansCrates.Bench.Infrastructure;

namespace OrleansCrates.Bench;

/// <summary>Command-line options of the benchmark.</summary>
internal sealed record BenchOptions
{
    public const string Usage = """
        Usage: bench/run.sh [options]   (or: dotnet OrleansCrates.Bench.dll [options])

          --duration S          seconds per wrk run (default 5)
          --connections LIST    comma-separated wrk connection counts (default 16,64,256)
          --cargo-runs N        cold cargo fetch repetitions per side (default 3)
          --skip-throughput     skip the wrk phase (and the peak RSS figure that comes with it)
          --skip-cargo          skip the cold cargo fetch phase
          --cold-mirror-process do not warm up each fresh mirror (JIT) before a timed cargo fetch
          --skip-features       skip the feature cost phase (warm download, statistics/metrics/tokens/policy on vs off)
          --skip-big            skip the 400 MB crate memory phase (filesystem and Azure Blob storage)
          --skip-storm          skip the build storm (K cold clients across N nodes on Azurite)
          --storm-clients K     concurrent cold clients in the build storm (default 200)
          --storm-nodes LIST    comma-separated node counts, one storm each (default 1,2,3)
          --storm-crates N      crate files each storm client requests, plus their index files (default 20)
          --skip-storage-compare
                                skip the warm-hit wrk comparison of Azure Blob vs filesystem storage
          --skip-grain-call     skip the grain call cost microbenchmark (two in-process silos)
          --skip-takeover       skip the takeover timings (kill -9 / SIGSTOP of a silo mid-download, 3 silos on Redis)
          --skip-activations    skip the crate grain activation memory phase
          --activations N       distinct crate names (one grain each) in the activation memory phase (default 50000)
          --server-dll PATH     the mirror to run (default src/OrleansCrates.Server/bin/Release/net10.0/OrleansCrates.Server.dll)
          --cli-dll PATH        the operator CLI, for the feature-cost phase's read token
                                (default src/OrleansCrates.Cli/bin/Release/net10.0/OrleansCrates.Cli.dll)
          --mirror-env K=V      extra environment variable for every mirror process (repeatable)
          --no-pin              do not pin the servers and wrk to separate cores in the wrk phases
                                (default: servers on the upper half of the cores, wrk on the rest, with taskset)
          --out DIR             where results-<timestamp>.md goes (default bench/out)
          --help                this text
        """;

    public int DurationSeconds { get; init; } = 5;

    public IReadOnlyList<int> Connections { get; init; } = [16, 64, 256];

    public int CargoRuns { get; init; } = 3;

    public bool SkipThroughput { get; init; }

    public bool SkipCargo { get; init; }

    public bool MirrorJitWarmup { get; init; } = true;

    public bool SkipBig { get; init; }

    public bool SkipStorm { get; init; }

    public int StormClients { get; init; } = 200;

    public IReadOnlyList<int> StormNodes { get; init; } = [1, 2, 3];

    public int StormCrates { get; init; } = 20;

    public bool SkipStorageCompare { get; init; }

    public bool SkipFeatures { get; init; }

    public bool SkipGrainCall { get; init; }

    public bool SkipTakeover { get; init; }

    public bool SkipActivations { get; init; }

    public int Activations { get; init; } = 50_000;

    public string ServerDll { get; init; } = RepoPaths.DefaultServerDll;

    /// <summary>Cores of the servers under test and of wrk in the wrk phases (<see cref="CpuPinning"/>).</summary>
    public CpuPinning Pinning { get; init; } = CpuPinning.Split(Environment.ProcessorCount);

    /// <summary>The operator CLI, for the read token of the feature-cost phase.</summary>
    public string CliDll { get; init; } = RepoPaths.DefaultCliDll;

    public IReadOnlyDictionary<string, string> MirrorEnvironment { get; init; } = new Dictionary<string, string>();

    public string OutputDirectory { get; init; } = RepoPaths.DefaultOutputDirectory;

    public bool ShowHelp { get; init; }

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"{arg} needs a value");
                }

                return args[++i];
            }

            options = arg switch
            {
                "--duration" => options with { DurationSeconds = PositiveInt(arg, Value()) },
                "--connections" => options with { Connections = PositiveInts(arg, Value()) },
                "--cargo-runs" => options with { CargoRuns = PositiveInt(arg, Value()) },
                "--skip-throughput" => options with { SkipThroughput = true },
                "--skip-cargo" => options with { SkipCargo = true },
                "--skip-big" => options with { SkipBig = true },
                "--skip-storm" => options with { SkipStorm = true },
                "--no-pin" => options with { Pinning = CpuPinning.None },
                "--storm-clients" => options with { StormClients = PositiveInt(arg, Value()) },
                "--storm-nodes" => options with { StormNodes = PositiveInts(arg, Value()) },
                "--storm-crates" => options with { StormCrates = PositiveInt(arg, Value()) },
                "--skip-storage-compare" => options with { SkipStorageCompare = true },
                "--skip-features" => options with { SkipFeatures = true },
                "--skip-grain-call" => options with { SkipGrainCall = true },
                "--skip-takeover" => options with { SkipTakeover = true },
                "--skip-activations" => options with { SkipActivations = true },
                "--activations" => options with { Activations = PositiveInt(arg, Value()) },
                "--cold-mirror-process" => options with { MirrorJitWarmup = false },
                "--server-dll" => options with { ServerDll = Path.GetFullPath(Value()) },
                "--cli-dll" => options with { CliDll = Path.GetFullPath(Value()) },
                "--out" => options with { OutputDirectory = Path.GetFullPath(Value()) },
                "--mirror-env" => AddEnvironment(options, environment, Value()),
                "--help" or "-h" => options with { ShowHelp = true },
                _ => throw new ArgumentException($"unknown option {arg}"),
            };
        }

        if (options.Connections.Count == 0)
        {
            throw new ArgumentException("--connections needs at least one count");
        }

        if (options.StormNodes.Count == 0)
        {
            throw new ArgumentException("--storm-nodes needs at least one count");
        }

        return options with { MirrorEnvironment = environment };
    }

    private static BenchOptions AddEnvironment(BenchOptions options, Dictionary<string, string> environment, string pair)
    {
        var equals = pair.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new ArgumentException($"--mirror-env expects KEY=VALUE, got '{pair}'");
        }

        environment[pair[..equals]] = pair[(equals + 1)..];
        return options;
    }

    private static List<int> PositiveInts(string option, string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => PositiveInt(option, v)).ToList();

    private static int PositiveInt(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0
            ? number
            : throw new ArgumentException($"{option} expects a positive integer, got '{value}'");
}
