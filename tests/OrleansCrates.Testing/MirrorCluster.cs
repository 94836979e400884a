using System.Net;
using System.Text;

namespace OrleansCrates.Testing;

/// <summary>Where the nodes of a <see cref="MirrorCluster"/> keep their shared data.</summary>
public sealed class ClusterStorage
{
    private ClusterStorage(string description, string? sharedRoot, IReadOnlyDictionary<string, string> environment)
    {
        Description = description;
        SharedRoot = sharedRoot;
        Environment = environment;
    }

    /// <summary>For messages: "FileSystem /tmp/x" or "AzureBlob container c at http://127.0.0.1:p/devstoreaccount1".</summary>
    public string Description { get; }

    /// <summary>The one folder every node stores under (FileSystem), or null when each node gets an unused temp folder (AzureBlob).</summary>
    public string? SharedRoot { get; }

    /// <summary>The <c>Storage__*</c> settings every node gets.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>Every node stores under <paramref name="root"/> (several processes, one folder).</summary>
    public static ClusterStorage FileSystem(string root) => new(
        $"FileSystem {root}",
        root,
        new Dictionary<string, string>
        {
            ["Storage__Provider"] = "FileSystem",
            ["Storage__FileSystem__Root"] = root,
        });

    /// <summary>Every node stores in one blob container (created by the nodes if missing).</summary>
    public static ClusterStorage AzureBlob(string connectionString, string container) => new(
        $"AzureBlob container {container}",
        null,
        new Dictionary<string, string>
        {
            ["Storage__Provider"] = "AzureBlob",
            ["Storage__AzureBlob__ConnectionString"] = connectionString,
            ["Storage__AzureBlob__Container"] = container,
        });

    /// <summary>A fresh container in <paramref name="azurite"/>.</summary>
    public static ClusterStorage AzureBlob(AzuriteProcess azurite, string? container = null)
    {
        ArgumentNullException.ThrowIfNull(azurite);
        return AzureBlob(azurite.ConnectionString, container ?? AzuriteProcess.NewContainerName("cluster"));
    }
}

/// <summary>
/// Several real <see cref="MirrorProcess"/> nodes sharing one store and one upstream, each on its own port, each with a
/// temp folder of its own (used as the storage root only with FileSystem storage). Started with a
/// <see cref="RedisProcess"/>, the nodes are silos of one Orleans cluster (a cluster id of their own on that Redis);
/// without one, each is a one-silo cluster of its own. Disposal kills every node and deletes the folders.
/// <see cref="Output"/> gathers every node's output for failure messages.
/// </summary>
public sealed class MirrorCluster : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly string _upstreamIndexUrl;
    private readonly ClusterStorage _storage;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly string _sandbox;
    private readonly List<MirrorProcess> _nodes = [];
    private readonly HttpClient _probe = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    private MirrorCluster(string upstreamIndexUrl, ClusterStorage storage, IReadOnlyDictionary<string, string> environment)
    {
        _upstreamIndexUrl = upstreamIndexUrl;
        _storage = storage;
        _environment = environment;
        _sandbox = Directory.CreateTempSubdirectory("oc-cluster-").FullName;
    }

    /// <summary>The nodes in start order (killed ones included).</summary>
    public IReadOnlyList<MirrorProcess> Nodes
    {
        get
        {
            lock (_nodes)
            {
                return _nodes.ToArray();
            }
        }
    }

    public MirrorProcess this[int index] => Nodes[index];

    public ClusterStorage Storage => _storage;

    /// <summary>Every node's output so far, each under a header naming the node, its pid and URL.</summary>
    public string Output
    {
        get
        {
            var text = new StringBuilder();
            var nodes = Nodes;
            for (var i = 0; i < nodes.Count; i++)
            {
                var node = nodes[i];
                text.Append("----- node ").Append(i).Append(" (pid ").Append(node.ProcessId).Append(", ").Append(node.BaseUri)
                    .Append(node.HasExited ? ", exited" : string.Empty).Append(") -----\n").Append(node.Output);
            }

            return text.ToString();
        }
    }

    /// <summary>Starts <paramref name="nodes"/> nodes at once as silos of one new cluster on <paramref name="redis"/>, else as <see cref="StartAsync(int, string, ClusterStorage, IReadOnlyDictionary{string, string}?, CancellationToken)"/>.</summary>
    public static Task<MirrorCluster> StartAsync(
        int nodes,
        string upstreamIndexUrl,
        ClusterStorage storage,
        RedisProcess redis,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var settings = new Dictionary<string, string>(redis.ClusterSettings("test-" + Guid.NewGuid().ToString("N")[..12]));
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        return StartAsync(nodes, upstreamIndexUrl, storage, settings, cancellationToken);
    }

    /// <summary>
    /// Starts <paramref name="nodes"/> nodes one after another on <paramref name="storage"/> with upstream
    /// <paramref name="upstreamIndexUrl"/> and the extra <paramref name="environment"/>, and waits until each says
    /// <c>/health/ready</c> 200 (its storage is reachable).
    /// </summary>
    public static async Task<MirrorCluster> StartAsync(
        int nodes,
        string upstreamIndexUrl,
        ClusterStorage storage,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nodes);
        ArgumentException.ThrowIfNullOrEmpty(upstreamIndexUrl);
        ArgumentNullException.ThrowIfNull(storage);
        var cluster = new MirrorCluster(upstreamIndexUrl, storage, environment ?? new Dictionary<string, string>());
        try
        {
            // One after another: silos joining at once on a busy machine can take far longer than one by one.
            for (var i = 0; i < nodes; i++)
            {
                await cluster.StartNodeAsync(cancellationToken);
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more node on the same storage (a fresh process with a fresh, empty temp folder) and waits until it is ready.</summary>
    public async Task<MirrorProcess> StartNodeAsync(CancellationToken cancellationToken = default)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_sandbox, "node-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var root = _storage.SharedRoot ?? Path.Combine(folder, "unused-store");
        var settings = new Dictionary<string, string>(_storage.Environment);
        foreach (var (key, value) in _environment)
        {
            settings[key] = value;
        }

        var node = await MirrorProcess.StartAsync(_upstreamIndexUrl, root, settings, cancellationToken);
        lock (_nodes)
        {
            _nodes.Add(node);
        }

        await WaitUntilReadyAsync(node, cancellationToken);
        return node;
    }

    /// <summary>
    /// Waits until every node still running has no crate fetch or write in flight (<see cref="MirrorProcess.SettledAsync"/>):
    /// nodes answer before what they fetched is stored, so a test reads the shared store after this. A killed node has
    /// nothing left to settle.
    /// </summary>
    public async Task SettledAsync()
    {
        foreach (var node in Nodes.Where(n => !n.HasExited))
        {
            await node.SettledAsync();
        }
    }

    /// <summary>Polls <c>/health/ready</c> until it answers 200 (at most 60 s); throws with the node's output otherwise.</summary>
    public async Task WaitUntilReadyAsync(MirrorProcess node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        var deadline = DateTime.UtcNow + ReadyTimeout;
        var last = "no answer yet";
        while (true)
        {
            if (node.HasExited)
            {
                throw new InvalidOperationException(
                    $"Expected node {node.BaseUri} ({_storage.Description}) to become ready; it exited. Output:\n{node.Output}");
            }

            try
            {
                using var response = await _probe.GetAsync(new Uri(node.BaseUri, "health/ready"), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = e.Message;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"Expected node {node.BaseUri} ({_storage.Description}) to answer /health/ready with 200 within {ReadyTimeout.TotalSeconds:0} s; " +
                    $"last answer: {last}. Output:\n{node.Output}");
            }

            // Readiness is the node's own state (its storage became reachable); there is nothing to await but polling.
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    /// <summary>How many active silos <paramref name="node"/> sees (<c>activeSilos</c> in its <c>/health/ready</c>), or null if it does not answer.</summary>
    public async Task<int?> ActiveSilosAsync(MirrorProcess node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        try
        {
            using var response = await _probe.GetAsync(new Uri(node.BaseUri, "health/ready"), cancellationToken);
            using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return json.RootElement.TryGetProperty("activeSilos", out var silos) ? silos.GetInt32() : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Polls until <paramref name="node"/> sees <paramref name="expected"/> active silos (at most 60 s; membership converges in seconds).</summary>
    public async Task WaitForActiveSilosAsync(MirrorProcess node, int expected, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + ReadyTimeout;
        int? seen;
        while ((seen = await ActiveSilosAsync(node, cancellationToken)) != expected)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected node {node.BaseUri} to see {expected} active silos within {ReadyTimeout.TotalSeconds:0} s; it sees {seen}. Output:\n{Output}");
            }

            // Membership is the cluster's own state; there is nothing to await but polling.
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Nodes.Select(n => n.DisposeAsync().AsTask()));
        _probe.Dispose();
        try
        {
            Directory.Delete(_sandbox, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a killed node may still hold a file briefly.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
