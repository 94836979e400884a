using System.Diagnostics;
using System.Text;

namespace OrleansCrates.Testing;

/// <summary>
/// A real OrleansCrates server process on 127.0.0.1 with a port of its own choosing. Start-up waits for ASP.NET's
/// "Now listening on:" line; disposal kills the whole process tree. Tests configure it only through environment
/// variables, exactly as operators do.
/// </summary>
public sealed class MirrorProcess : IAsyncDisposable
{
    private const string ListeningMarker = "Now listening on: ";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Marker, TaskCompletionSource Seen)> _watches = [];

    private MirrorProcess(Process process, Uri baseUri, string storageRoot)
    {
        _process = process;
        BaseUri = baseUri;
        StorageRoot = storageRoot;
    }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseUri { get; private set; }

    /// <summary>The mirror's sparse index root, for cargo's source replacement (without <c>sparse+</c>).</summary>
    public string IndexUrl => BaseUri + "index/";

    public string StorageRoot { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process wrote so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The server assembly next to the running tests (test projects reference the server project).</summary>
    public static string DefaultServerDll => Path.Combine(AppContext.BaseDirectory, "OrleansCrates.Server.dll");

    /// <summary>The operator CLI (src/OrleansCrates.Cli), in the output folder of test projects that reference it.</summary>
    public static string DefaultCliDll => Path.Combine(AppContext.BaseDirectory, "OrleansCrates.Cli.dll");

    /// <summary>Starts a mirror whose primary upstream is <paramref name="upstreamIndexUrl"/>, storing under <paramref name="storageRoot"/>.</summary>
    public static Task<MirrorProcess> StartAsync(
        string upstreamIndexUrl,
        string storageRoot,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var settings = new Dictionary<string, string>
        {
            ["Mirror__Upstreams__0__IndexUrl"] = upstreamIndexUrl,
            ["Mirror__UserAgentContact"] = "tests@orleanscrates.invalid",
            ["Storage__FileSystem__Root"] = storageRoot,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        return StartAsync(settings, storageRoot, DefaultServerDll, cancellationToken);
    }

    public static async Task<MirrorProcess> StartAsync(
        IReadOnlyDictionary<string, string> environment,
        string storageRoot,
        string serverDll,
        CancellationToken cancellationToken)
    {
        // Ports this class picks are free when picked, but a test running in parallel may bind one before the silo
        // does: such a start is retried with new ports (a port the test chose itself is never changed).
        var choosesPorts = !environment.ContainsKey("Cluster__SiloPort") && !environment.ContainsKey("Cluster__GatewayPort");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(environment, storageRoot, serverDll, cancellationToken);
            }
            catch (InvalidOperationException e) when (choosesPorts && attempt < 3 && e.Message.Contains("Address already in use", StringComparison.OrdinalIgnoreCase))
            {
            }
        }
    }

    private static async Task<MirrorProcess> StartOnceAsync(
        IReadOnlyDictionary<string, string> environment,
        string storageRoot,
        string serverDll,
        CancellationToken cancellationToken)
    {
        if (!File.Exists(serverDll))
        {
            throw new FileNotFoundException($"The server assembly is missing at {serverDll}; build the solution first.", serverDll);
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(serverDll)!,
        };
        start.ArgumentList.Add(serverDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        // Every process is a silo: tests run in parallel, so each gets free silo and gateway ports unless told otherwise.
        var ports = FreePorts(2);
        start.Environment["Cluster__SiloPort"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Cluster__GatewayPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The internal listener other silos relay cold downloads from (Redis clusters only): 0 lets the system pick a
        // free port at bind time, and the silo tells the others the one it got.
        start.Environment["Cluster__InternalHttpPort"] = "0";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var mirror = new MirrorProcess(process, new Uri("http://127.0.0.1/"), storageRoot);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (mirror._output)
            {
                mirror._output.AppendLine(line);
                foreach (var (marker, seen) in mirror._watches)
                {
                    if (line.Contains(marker, StringComparison.Ordinal))
                    {
                        seen.TrySetResult();
                    }
                }
            }

            var at = line.IndexOf(ListeningMarker, StringComparison.Ordinal);
            if (at >= 0)
            {
                // Up to a quote too: with Logging:Console:FormatterName=json the marker is inside a JSON string.
                var address = line[(at + ListeningMarker.Length)..].Split('"', 2)[0];
                listening.TrySetResult(new Uri(address.Trim().TrimEnd('/') + "/"));
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("The mirror process exited during start-up."));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            // Generous: a silo joining a cluster on a machine starved of CPU can take most of a minute.
            mirror.BaseUri = await listening.Task.WaitAsync(StartTimeout, cancellationToken);
            return mirror;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await mirror.DisposeAsync();
            throw new InvalidOperationException(
                $"Expected the mirror to print '{ListeningMarker}<url>' within {StartTimeout.TotalSeconds:0} s; it said:\n{mirror.Output}", e);
        }
    }

    /// <summary>Completes when the process has printed a line containing <paramref name="marker"/> (before or after this call).</summary>
    public Task WaitForOutputAsync(string marker, CancellationToken cancellationToken)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Contains(marker, StringComparison.Ordinal))
            {
                return Task.CompletedTask;
            }

            _watches.Add((marker, seen));
        }

        return seen.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Waits until the mirror has no crate fetch or write in flight (<c>/health/settled</c>): it answers before the index
    /// documents it fetched are stored and while a verified crate file commits, so a test reads its storage after this.
    /// </summary>
    public async Task SettledAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var response = await http.GetAsync(new Uri(BaseUri, "health/settled?timeout=30"));
        if (response.StatusCode != System.Net.HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"The mirror at {BaseUri} did not settle: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{Output}");
        }
    }

    /// <summary>A TCP port nobody listens on right now (the OS picks it), for a silo or gateway.</summary>
    public static int FreePort() => FreePorts(1)[0];

    /// <summary>
    /// <paramref name="count"/> different TCP ports nobody listens on right now. All are held open until every one is
    /// picked: picked one at a time, the OS may hand out the port it just freed again (a silo then refused to start
    /// because its silo and gateway ports were the same).
    /// </summary>
    public static int[] FreePorts(int count)
    {
        var listeners = new List<System.Net.Sockets.TcpListener>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
                listeners.Add(listener);
                listener.Start();
            }

            return [.. listeners.Select(l => ((System.Net.IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Dispose();
            }
        }
    }

    /// <summary>Sends SIGTERM (what Kubernetes and systemd send) and waits until the process has exited; returns its exit code.</summary>
    public async Task<int> TerminateAsync(CancellationToken cancellationToken = default)
    {
        Signal("TERM");
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    /// <summary>Sends a signal by name (TERM, STOP, CONT) with kill(1).</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
    }

    /// <summary>Kills the process at once, as a crash would (no graceful shutdown).</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        _process.Dispose();
    }
}
