using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace OrleansCrates.Testing;

/// <summary>
/// A real Azurite blob service on 127.0.0.1 with a port the OS picks (read back from its "listens on" line), its data
/// in a temp folder of its own. Disposal kills its process tree and deletes the folder. The binary is
/// <c>tests/azurite/node_modules/.bin/azurite-blob</c> under the folder holding <c>OrleansCrates.sln</c> (install with
/// <c>npm ci --prefix tests/azurite</c>), or the path in the <c>AZURITE_BLOB</c> environment variable.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable
{
    /// <summary>Azurite's fixed development account.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The key of <see cref="AccountName"/> (public, the same in every Azurite).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private const string ReadyMarker = "Azurite Blob service successfully listens on ";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90); // Node.js start-up on a loaded 2-core machine can take over 30 s

    // Every Azurite not yet disposed: killed if the process exits without disposing it (a crashed test run, Ctrl-C).
    private static readonly ConcurrentDictionary<AzuriteProcess, byte> Live = new();

    private readonly Process _process;
    private readonly string _location;
    private readonly StringBuilder _output = new();

    static AzuriteProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var azurite in Live.Keys)
            {
                azurite.KillTree();
            }
        };
    }

    private AzuriteProcess(Process process, string location)
    {
        _process = process;
        _location = location;
    }

    /// <summary>The blob service port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary><c>http://127.0.0.1:PORT/devstoreaccount1</c> (path-style, as Azurite addresses accounts).</summary>
    public string BlobEndpoint => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}/{AccountName}");

    /// <summary>A Shared Key connection string for this Azurite (what <c>Storage:AzureBlob:ConnectionString</c> takes).</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint={BlobEndpoint};";

    /// <summary>The folder Azurite keeps its data in (deleted on dispose).</summary>
    public string Location => _location;

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything Azurite printed so far, for failure messages.</summary>
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

    /// <summary><c>tests/azurite/node_modules/.bin/azurite-blob</c> in this repository, or <c>$AZURITE_BLOB</c>.</summary>
    public static string BinaryPath
    {
        get
        {
            var overridden = Environment.GetEnvironmentVariable("AZURITE_BLOB");
            return string.IsNullOrEmpty(overridden)
                ? Path.Combine(RepoRoot(), "tests", "azurite", "node_modules", ".bin", "azurite-blob")
                : overridden;
        }
    }

    /// <summary>A container name nobody has used yet (3–63 of <c>[a-z0-9-]</c>).</summary>
    public static string NewContainerName(string prefix = "test") =>
        prefix.ToLowerInvariant() + "-" + Guid.NewGuid().ToString("N")[..20];

    /// <summary>
    /// Starts Azurite and waits (at most 30 s) until it listens. Throws with a message saying how to install it when the
    /// binary is missing, and with its output when it does not come up.
    /// </summary>
    public static async Task<AzuriteProcess> StartAsync(CancellationToken cancellationToken = default)
    {
        var binary = BinaryPath;
        if (!File.Exists(binary))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed: {binary} does not exist. Run `npm ci --prefix tests/azurite` from the repository root " +
                "(needs node ≥ 20 and npm), or set AZURITE_BLOB to an azurite-blob executable.");
        }

        var location = Directory.CreateTempSubdirectory("azurite-").FullName;
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--blobHost", "127.0.0.1", "--blobPort", "0", "--location", location, "--silent", "--disableTelemetry", "--skipApiVersionCheck"])
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var azurite = new AzuriteProcess(process, location);
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (azurite._output)
            {
                azurite._output.AppendLine(line);
            }

            var at = line.IndexOf(ReadyMarker, StringComparison.Ordinal);
            if (at >= 0)
            {
                if (Uri.TryCreate(line[(at + ReadyMarker.Length)..].Trim(), UriKind.Absolute, out var address) && address.Port > 0)
                {
                    listening.TrySetResult(address.Port);
                }
                else
                {
                    listening.TrySetException(new InvalidOperationException($"Azurite said it listens but named no port: '{line}'."));
                }
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("Azurite exited during start-up."));
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            DeleteLocation(location);
            throw new InvalidOperationException($"Could not start Azurite from {binary}: {e.Message}", e);
        }

        Live[azurite] = 0;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            azurite.Port = await listening.Task.WaitAsync(StartTimeout, cancellationToken);
            return azurite;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await azurite.DisposeAsync();
            var what = e is TimeoutException ? $"within {StartTimeout.TotalSeconds:0} s" : $"({e.Message})";
            throw new InvalidOperationException(
                $"Expected Azurite ({binary}) to print '{ReadyMarker}<url>' {what}; it said:\n{azurite.Output}", e);
        }
        catch (OperationCanceledException)
        {
            await azurite.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Live.TryRemove(this, out _);
        KillTree();
        try
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }
        catch (OperationCanceledException)
        {
            // Did not die within 10 s; nothing more a test can do.
        }

        _process.Dispose();
        DeleteLocation(_location);
    }

    private void KillTree()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting while we tried.
        }
    }

    /// <summary>The folder above <see cref="AppContext.BaseDirectory"/> that holds <c>OrleansCrates.sln</c>.</summary>
    public static string RepoRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "OrleansCrates.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds OrleansCrates.sln.");
    }

    private static void DeleteLocation(string location)
    {
        try
        {
            Directory.Delete(location, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
            // Best effort: a dying Azurite may still hold a file briefly.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
