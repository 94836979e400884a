using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Grains.Tests;

/// <summary>
/// The toolchain file grain on Orleans' in-process test cluster, with a toolchain mirror on a filesystem store (whose
/// lookups complete synchronously) in front of a fake dist server.
/// </summary>
public sealed class ToolchainFileGrainTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oc-toolchain-grain-" + Guid.NewGuid().ToString("N"));
    private readonly FakeToolchain _release = FakeToolchain.Create();
    private FakeDistServer _dist = null!;
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _dist = await FakeDistServer.StartAsync(_release.Files);
        var toolchains = Options.Create(new ToolchainOptions { Upstreams = [new ToolchainUpstreamOptions { Url = _dist.Url }] });
        var mirror = Options.Create(new MirrorOptions { UpstreamMaxAttempts = 1 });
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<IObjectStore>(_ => new FileSystemObjectStore(_root));
            silo.Services.AddSingleton(_ => new ToolchainUpstreams(toolchains, mirror, TimeProvider.System, NullLoggerFactory.Instance));
            silo.Services.AddSingleton(sp => new ToolchainMirror(
                sp.GetRequiredService<IObjectStore>(),
                sp.GetRequiredService<ToolchainUpstreams>(),
                new ToolchainRecords(sp.GetRequiredService<IObjectStore>(), toolchains),
                toolchains,
                TimeProvider.System,
                sp.GetRequiredService<IHostApplicationLifetime>(),
                NullLogger<ToolchainMirror>.Instance));
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _dist.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task A_fetch_that_completed_at_once_is_not_reused_by_the_next_call()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;
        var sidecar = _release.Archives[0] + ".sha256";
        var key = ToolchainPath.TryParse(sidecar, out var path) ? path.FileKey : throw new InvalidOperationException(sidecar);
        var store = new FileSystemObjectStore(_root);
        // Sidecars are fetched only for archives a held manifest lists: hold the release's dated manifest first.
        var manifest = await _cluster.Client.GetGrain<IToolchainFileGrain>($"dist/{_release.Date}/channel-rust-{_release.Version}.toml").EnsureStoredAsync(ct);
        Assert.Equal(ToolchainFileState.Stored, manifest.State);
        await store.PutAsync(key, _release.Files[sidecar], WriteCondition.IfNotExists, ct);
        var grain = _cluster.Client.GetGrain<IToolchainFileGrain>(sidecar);

        // Held: the owner's check is a synchronous storage lookup, so the whole fetch completes before it is even returned.
        var held = await grain.EnsureStoredAsync(ct);
        Assert.Equal((ToolchainFileState.Stored, false), (held.State, held.FromUpstream));
        Assert.Equal(0, _dist.Requests(sidecar));

        // Gone from storage: the next call must run a new fetch, not hand back the finished one.
        Assert.Equal(DeleteResult.Deleted, await store.DeleteAsync(key, null, ct));
        var fetched = await grain.EnsureStoredAsync(ct);
        Assert.True(fetched.FromUpstream, $"the second call must fetch again, got {fetched}");
        Assert.Equal(ToolchainFileState.Stored, fetched.State);
        Assert.Equal(1, _dist.Requests(sidecar));
        Assert.NotNull(await store.GetPropertiesOrNullAsync(key, ct));
    }

    [Fact]
    public async Task Where_an_archive_downloads_is_asked_only_while_it_runs()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;
        var archive = _release.Archives[0];
        Assert.Null(await _cluster.Client.GetGrain<IToolchainFileGrain>(archive + ".sha256").LocateDownloadAsync(ct)); // not an archive
        Assert.Null(await _cluster.Client.GetGrain<IToolchainFileGrain>(archive).LocateDownloadAsync(ct)); // no held manifest: the fetch ends at once
    }
}
