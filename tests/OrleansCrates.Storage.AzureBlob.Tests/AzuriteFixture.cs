using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>
/// A real Azurite blob service on a free local port, with its data in a temp folder; killed (with its process tree)
/// on dispose. The binary is <c>tests/azurite/node_modules/.bin/azurite-blob</c> (install with
/// <c>npm ci --prefix tests/azurite</c>), or the path in the <c>AZURITE_BLOB</c> environment variable.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private const string ReadyLine = "Azurite Blob service successfully listens on";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;
    private string? _location;

    public int Port { get; private set; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={StorageConnectionString.DevelopmentAccountKey};BlobEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;";

    public async Task InitializeAsync()
    {
        var binary = FindAzurite();
        _location = Path.Combine(Path.GetTempPath(), "azurite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_location);
        Port = FreePort();

        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--blobHost", "127.0.0.1", "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--location", _location, "--silent", "--disableTelemetry", "--skipApiVersionCheck"])
        {
            start.ArgumentList.Add(argument);
        }

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnOutput(e.Data);
        _process.ErrorDataReceived += (_, e) => OnOutput(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException(
            $"Azurite ({binary}) exited with code {SafeExitCode()} before printing '{ReadyLine}'. Output:\n{Output()}"));
        if (!_process.Start())
        {
            throw new InvalidOperationException($"Could not start Azurite from {binary}.");
        }

        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try
        {
            await _ready.Task.WaitAsync(StartTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(
                $"Azurite did not print '{ReadyLine}' within {StartTimeout.TotalSeconds} s (port {Port}). Output so far:\n{Output()}");
        }
    }

    public Task DisposeAsync()
    {
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        if (_location is not null)
        {
            try
            {
                Directory.Delete(_location, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Options for a fresh, randomly named container (not yet created).</summary>
    public AzureBlobStorageOptions Options(int blockSize = AzureBlobStorageOptions.DefaultBlockSize) => new()
    {
        ConnectionString = ConnectionString,
        Container = "test-" + Guid.NewGuid().ToString("N")[..20],
        BlockSize = blockSize,
        MaxRetries = 2,
        RetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>A store on its own new container.</summary>
    public async Task<AzureBlobObjectStore> CreateStoreAsync(int blockSize = AzureBlobStorageOptions.DefaultBlockSize, int? listPageSize = null)
    {
        var store = new AzureBlobObjectStore(BlobRestClient.Create(Options(blockSize)), blockSize) { ListPageSize = listPageSize };
        Assert.True(await store.EnsureContainerAsync(CancellationToken.None));
        return store;
    }

    internal static string RepoRoot()
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

    private static string FindAzurite()
    {
        var overridden = Environment.GetEnvironmentVariable("AZURITE_BLOB");
        var path = string.IsNullOrEmpty(overridden)
            ? Path.Combine(RepoRoot(), "tests", "azurite", "node_modules", ".bin", "azurite-blob")
            : overridden;
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed: {path} does not exist. Run `npm ci --prefix tests/azurite` from the repository root " +
                "(needs node ≥ 20 and npm), or set AZURITE_BLOB to an azurite-blob executable.");
        }

        return path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (line.Contains(ReadyLine, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    private string SafeExitCode()
    {
        try
        {
            return _process?.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?";
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
