using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.TestingHost;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.Grains.Tests;

/// <summary>
/// Orleans' in-process test cluster whose silos are private registry nodes: each silo has its own front end
/// (<see cref="PrivateRegistry"/>: its own caches and spool) on one shared filesystem store, and sends each crate's
/// changes to the crate's grain through <see cref="PrivateCrateGrains"/>, as a server does. Every silo's store is an
/// <see cref="InterceptingStore"/> reporting to one <see cref="WriteLog"/>.
/// </summary>
public sealed class PrivateGrainCluster : IAsyncDisposable
{
    private readonly List<PublishSpool> _spools = [];

    static PrivateGrainCluster()
    {
        // Room for a silo's eviction on a busy 2-core machine; the production deadline stays below cargo's 30 s.
        PrivateCrateGrains.Deadline = TimeSpan.FromSeconds(90);
    }

    private PrivateGrainCluster(InProcessTestCluster cluster, string root, WriteLog log)
    {
        SpoolRoot = root + "-spool";
        Cluster = cluster;
        Root = root;
        Log = log;
    }

    public InProcessTestCluster Cluster { get; }

    public string Root { get; }

    private string SpoolRoot { get; }

    public WriteLog Log { get; }

    /// <summary>The shared store without interception (what the offline CLI or another region writes to).</summary>
    public IObjectStore Store => new FileSystemObjectStore(Root);

    /// <summary>Calls that go through <see cref="FailAfterCommits"/>: each fails after the commit it carried landed.</summary>
    public int FailedAfterCommit => _failedAfterCommit;

    /// <summary>How many of the next commit calls land and then fail as if their silo died before answering.</summary>
    public int FailAfterCommits;

    private int _failedAfterCommit;

    public static async Task<PrivateGrainCluster> StartAsync(short silos = 2)
    {
        var root = Path.Combine(Path.GetTempPath(), "oc-private-grains-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var log = new WriteLog();
        PrivateGrainCluster? self = null;
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((options, silo) =>
        {
            silo.Configure<ClusterMembershipOptions>(ClusterDefaults.ApplyMembershipDefaults);
            silo.AddIncomingGrainCallFilter(async context =>
            {
                await context.Invoke();
                if (context.InterfaceMethod?.Name == nameof(IPrivateCrateGrain.CommitVersionAsync)
                    && self is { } cluster && Interlocked.Decrement(ref cluster.FailAfterCommits) >= 0)
                {
                    Interlocked.Increment(ref cluster._failedAfterCommit);
                    throw new SiloUnavailableException("the silo died after the commit landed (injected by the test)");
                }
            });
            silo.Services.AddSingleton<IObjectStore>(new InterceptingStore(new FileSystemObjectStore(root), options.SiloName, log));
            silo.Services.AddSingleton(TimeProvider.System);
            silo.Services.AddSingleton<PrivateCrateWriter>();
            silo.Services.AddSingleton<IUserDirectory>(new Users("alice", "bob", "carol"));
            silo.Services.AddSingleton(sp =>
            {
                var registryOptions = Options.Create(new PrivateRegistryOptions { SpoolPath = root + "-spool" });
                var spool = new PublishSpool(registryOptions, NullLogger<PublishSpool>.Instance);
                lock (self!._spools)
                {
                    self._spools.Add(spool);
                }

                return new PrivateRegistry(
                    sp.GetRequiredService<IObjectStore>(),
                    sp.GetRequiredService<IUserDirectory>(),
                    spool,
                    new PrivateCrateGrains(sp.GetRequiredService<IGrainFactory>(), NullLogger<PrivateCrateGrains>.Instance),
                    registryOptions,
                    TimeProvider.System,
                    NullLogger<PrivateRegistry>.Instance);
            });
        });
        var cluster = builder.Build();
        self = new PrivateGrainCluster(cluster, root, log);
        await cluster.DeployAsync();
        return self;
    }

    /// <summary>Silo <paramref name="index"/>'s front end.</summary>
    public PrivateRegistry Node(int index) => Cluster.Silos[index].ServiceProvider.GetRequiredService<PrivateRegistry>();

    /// <summary>A crate's grain, called as the front ends call it (for the outcomes no front end produces on its own).</summary>
    public IPrivateCrateGrain Grain(string name) =>
        Cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IPrivateCrateGrain>(CrateName.Parse(name).Canonical);

    public Task<PublishResult> PublishAsync(int node, SyntheticCrate crate, string user = "alice") =>
        Node(node).PublishAsync(user, Body(crate), Timeout());

    /// <summary>A registry that is not in the cluster (another region, or the offline CLI) on the same store.</summary>
    public PrivateRegistry Outsider()
    {
        var options = Options.Create(new PrivateRegistryOptions { SpoolPath = SpoolRoot });
        var spool = new PublishSpool(options, NullLogger<PublishSpool>.Instance);
        lock (_spools)
        {
            _spools.Add(spool);
        }

        return new PrivateRegistry(Store, new Users("alice", "bob", "carol"), spool, options, TimeProvider.System, NullLogger<PrivateRegistry>.Instance);
    }

    public async Task<List<IndexLine>> IndexAsync(string name, int node = 0)
    {
        var file = await Node(node).GetIndexFileAsync(CrateName.Parse(name), Timeout());
        Assert.NotNull(file);
        return IndexFile.Lines(file.Content).Select(l => IndexLine.TryParse(l.Span)!).ToList();
    }

    /// <summary>Cargo's publish body for <paramref name="crate"/>: <c>u32 LE json_len | JSON | u32 LE crate_len | crate bytes</c>.</summary>
    public static MemoryStream Body(SyntheticCrate crate) =>
        PublishBody.Stream(PublishBody.NewCrateJson(crate, $"Synthetic test crate {crate.Name} {crate.Version}"), crate.CrateBytes);

    public static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        lock (_spools)
        {
            _spools.ForEach(s => s.Dispose());
        }

        foreach (var folder in new[] { Root, SpoolRoot })
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private sealed class Users(params string[] logins) : IUserDirectory
    {
        public Task<bool> ExistsAsync(string login, CancellationToken ct) => Task.FromResult(logins.Contains(login, StringComparer.OrdinalIgnoreCase));
    }
}
