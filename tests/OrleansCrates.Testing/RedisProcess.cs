using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace OrleansCrates.Testing;

/// <summary>
/// A real redis-server (Debian's, <c>apt-get install redis-server</c>; or <c>$REDIS_SERVER</c>) on 127.0.0.1 and a free
/// port, holding the Orleans membership table of the mirror clusters a test starts. No persistence (a test's cluster
/// lives as long as the test). Dispose it after the silos that use it: silos shut down slowly without it.
/// </summary>
public sealed class RedisProcess : IAsyncDisposable
{
    private const string ReadyMarker = "Ready to accept connections";

    // Every redis-server not yet disposed: killed if the test process exits without disposing it.
    private static readonly ConcurrentDictionary<RedisProcess, byte> Live = new();

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    static RedisProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var redis in Live.Keys)
            {
                redis.Kill();
            }
        };
    }

    private RedisProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>What <c>Cluster:Redis:ConnectionString</c> takes.</summary>
    public string ConnectionString => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public static string BinaryPath => Environment.GetEnvironmentVariable("REDIS_SERVER") is { Length: > 0 } path ? path : "/usr/bin/redis-server";

    /// <summary>
    /// The settings that make a mirror process a silo of the cluster <paramref name="clusterId"/> on this Redis,
    /// advertising loopback (ports are picked per process by <see cref="MirrorProcess"/>).
    /// </summary>
    public IReadOnlyDictionary<string, string> ClusterSettings(string clusterId) => new Dictionary<string, string>
    {
        ["Cluster__Provider"] = "Redis",
        ["Cluster__Redis__ConnectionString"] = ConnectionString,
        ["Cluster__AdvertisedAddress"] = "127.0.0.1",
        ["Cluster__ClusterId"] = clusterId,
    };

    public static async Task<RedisProcess> StartAsync(CancellationToken cancellationToken = default)
    {
        // The port is free when picked, but a test running in parallel may bind it first: retried with a new one.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(cancellationToken);
            }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.OrdinalIgnoreCase))
            {
            }
        }
    }

    private static async Task<RedisProcess> StartOnceAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(BinaryPath))
        {
            throw new FileNotFoundException($"redis-server is missing at {BinaryPath}: apt-get install -y redis-server (./test.sh does).", BinaryPath);
        }

        var port = MirrorProcess.FreePort();
        var start = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", Path.GetTempPath() })
        {
            start.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var redis = new RedisProcess(process, port);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (redis._output)
            {
                redis._output.AppendLine(line);
            }

            if (line.Contains(ReadyMarker, StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("redis-server exited during start-up."));
        process.Start();
        Live[redis] = 0;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            return redis;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await redis.DisposeAsync(); // waits for the end of its output too
            string output;
            lock (redis._output)
            {
                output = redis._output.ToString();
            }

            throw new InvalidOperationException($"Expected redis-server to print '{ReadyMarker}' within 30 s; it said:\n{output}", e);
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Live.TryRemove(this, out _);
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
