using System.Text.RegularExpressions;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>
/// The OrleansCrates mirror as a separate process (<c>dotnet OrleansCrates.Server.dll --urls http://127.0.0.1:0</c>)
/// over a fresh storage root, pointed at one upstream index. Its port is read from ASP.NET's
/// "Now listening on" line. Disposing kills its process tree and deletes the storage root.
/// </summary>
internal sealed partial class MirrorServer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ChildProcess process;
    private readonly TempDirectory storage;

    private MirrorServer(ChildProcess process, TempDirectory storage, string baseUrl)
    {
        this.process = process;
        this.storage = storage;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    /// <summary>The registry's index URL, as cargo and the fake upstream spell it.</summary>
    public string IndexUrl => BaseUrl + "/index/";

    public int ProcessId => process.Id;

    public bool HasExited => process.HasExited;

    public string StorageRoot => storage.Path;

    public static async Task<MirrorServer> StartAsync(
        string serverDll,
        string upstreamIndexUrl,
        IReadOnlyDictionary<string, string> extraEnvironment,
        CancellationToken cancellationToken,
        CpuPinning? pinning = null)
    {
        if (!File.Exists(serverDll))
        {
            throw new BenchException(
                $"Mirror server not built: {serverDll} does not exist (bench/run.sh builds it; or pass --server-dll).");
        }

        var storage = TempDirectory.Create("mirror-storage");
        var ports = OrleansCrates.Testing.MirrorProcess.FreePorts(2);
        var environment = new Dictionary<string, string?>
        {
            ["Mirror__Upstreams__0__IndexUrl"] = upstreamIndexUrl,
            ["Storage__FileSystem__Root"] = storage.Path,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = null,
            // Every server is an Orleans silo: free silo and gateway ports, so several run side by side.
            ["Cluster__SiloPort"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cluster__GatewayPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cluster__InternalHttpPort"] = "0", // the listener silos relay cold downloads from (Redis clusters): any free port
        };
        foreach (var (key, value) in extraEnvironment)
        {
            environment[key] = value;
        }

        ChildProcess process;
        try
        {
            var (fileName, arguments) = (pinning ?? CpuPinning.None).Server("dotnet", [serverDll, "--urls", "http://127.0.0.1:0"]);
            process = ChildProcess.Start(
                "mirror",
                fileName,
                arguments,
                environment,
                Path.GetDirectoryName(serverDll));
        }
        catch
        {
            storage.Dispose();
            throw;
        }

        try
        {
            var match = await process.WaitForLineAsync(ListeningRegex(), StartTimeout, cancellationToken);
            return new MirrorServer(process, storage, match.Groups[1].Value.TrimEnd('/'));
        }
        catch
        {
            await process.DisposeAsync();
            storage.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Polls <c>/health/ready</c> until it answers 200 (storage reachable; on Azure the container is created in the
    /// background after start-up). Throws a <see cref="BenchException"/> with the last answer and output otherwise.
    /// </summary>
    public async Task WaitUntilReadyAsync(HttpProbe probe, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            EnsureRunning();
            var ready = await probe.GetAsync(BaseUrl + "/health/ready", TimeSpan.FromSeconds(10), cancellationToken);
            if (ready.IsOk)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new BenchException(
                    $"the mirror at {BaseUrl} did not answer /health/ready with 200 within {timeout.TotalSeconds:0} s " +
                    $"(last: {ready.Error ?? $"HTTP {(int?)ready.Status}"}). Last output:\n{Tail(20)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    public MemorySample ReadMemory() => ProcStatus.Read(process.Id);

    public void ResetPeakMemory() => ProcStatus.ResetPeak(process.Id);

    /// <summary>The last lines the mirror printed (for failure reports).</summary>
    public string Tail(int lines) => process.Tail(lines);

    /// <summary>Throws if the mirror process has died (say, mid-benchmark).</summary>
    public void EnsureRunning()
    {
        if (process.HasExited)
        {
            throw new BenchException($"The mirror process exited with code {process.ExitCode}. Last output:\n{process.Tail(30)}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await process.DisposeAsync();
        storage.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    internal static partial Regex ListeningRegex();
}
