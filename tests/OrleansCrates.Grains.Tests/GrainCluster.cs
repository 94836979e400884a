using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.TestingHost;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Grains.Tests;

/// <summary>
/// Orleans' in-process test cluster whose silos are mirror nodes: each silo has its own <see cref="CrateCoordinator"/>
/// (its own memory) on one shared filesystem store, with the crates' grains as their owners, one fake upstream on
/// loopback, and one hand-moved clock for the mirror's TTLs (Orleans keeps its own time).
/// </summary>
public sealed class GrainCluster : IAsyncDisposable
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);

    private GrainCluster(InProcessTestCluster cluster, string root, FakeTimeProvider clock)
    {
        Cluster = cluster;
        Root = root;
        Clock = clock;
    }

    public InProcessTestCluster Cluster { get; }

    public string Root { get; }

    public FakeTimeProvider Clock { get; }

    public static async Task<GrainCluster> StartAsync(FakeUpstream upstream, short silos = 2)
    {
        var root = Path.Combine(Path.GetTempPath(), "oc-grains-" + Guid.NewGuid().ToString("N"));
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        var options = Options.Create(new MirrorOptions
        {
            IndexTtl = Ttl,
            NotFoundTtl = TimeSpan.FromSeconds(30),
            FailureBackoff = TimeSpan.FromSeconds(5),
            UpstreamMaxAttempts = 1,
            Upstreams = [new UpstreamOptions { IndexUrl = upstream.IndexUrl, Timeout = TimeSpan.FromSeconds(30) }],
        });
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Configure<ClusterMembershipOptions>(ClusterDefaults.ApplyMembershipDefaults);
            silo.Services.AddSingleton<IObjectStore>(_ => new FileSystemObjectStore(root));
            silo.Services.AddSingleton(sp => new UpstreamSet(options, clock, NullLoggerFactory.Instance));
            silo.Services.AddSingleton(sp => new CrateCoordinator(
                sp.GetRequiredService<IObjectStore>(),
                sp.GetRequiredService<UpstreamSet>(),
                options,
                clock,
                sp.GetRequiredService<IHostApplicationLifetime>(),
                NullLogger<CrateCoordinator>.Instance,
                owners: new CrateGrains(sp.GetRequiredService<IGrainFactory>(), options, NullLogger<CrateGrains>.Instance)));
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new GrainCluster(cluster, root, clock);
    }

    /// <summary>Silo <paramref name="index"/>'s node (its coordinator: its memory, its storage, the grains as owners).</summary>
    public CrateCoordinator Node(int index) => Cluster.Silos[index].ServiceProvider.GetRequiredService<CrateCoordinator>();

    public Task<IndexResult> IndexAsync(int node, string name) => Node(node).GetIndexAsync(CrateName.Parse(name), Timeout());

    /// <summary>The whole file as silo <paramref name="node"/> serves it, or null with the status when it is not found.</summary>
    public async Task<(CrateFileStatus Status, byte[]? Bytes)> FileAsync(int node, string name, string version)
    {
        await using var result = await Node(node).OpenCrateFileAsync(CrateName.Parse(name), version, Timeout());
        if (result.File is null)
        {
            return (result.Status, null);
        }

        using var copy = new MemoryStream();
        await result.File.Content.CopyToAsync(copy);
        return (result.Status, copy.ToArray());
    }

    public FileSystemObjectStore Store => new(Root);

    /// <summary>
    /// Waits until every node's writes are in storage: answers go out before their index documents are stored
    /// (<see cref="CrateCoordinator.WhenDrainedAsync"/>), so a test that reads storage after an answer waits for this first.
    /// </summary>
    public async Task SettledAsync()
    {
        for (var i = 0; i < Cluster.Silos.Count; i++)
        {
            Assert.True(await Node(i).WhenDrainedAsync(Timeout()), $"node {i}'s writes did not finish");
        }
    }

    public static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    public async ValueTask DisposeAsync()
    {
        // Let the live nodes' writes end before their folder is deleted (a test that leaves a fetch stalled gives up waiting).
        foreach (var silo in Cluster.Silos)
        {
            await silo.ServiceProvider.GetRequiredService<CrateCoordinator>().WhenDrainedAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }

        await Cluster.DisposeAsync();
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
