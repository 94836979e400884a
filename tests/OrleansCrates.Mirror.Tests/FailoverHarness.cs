using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// A coordinator over a real filesystem store and an ordered list of real (fake) upstreams on loopback, named
/// "primary", "secondary", "third", with a hand-moved clock. Upstreams get two attempts each by policy, so tests can
/// see that with several upstreams each one is asked once.
/// </summary>
public sealed class FailoverHarness : IAsyncDisposable
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan Cooldown = TimeSpan.FromSeconds(30);
    public static readonly string[] Names = ["primary", "secondary", "third"];

    private readonly StandaloneLifetime _lifetime = new();

    private FailoverHarness(IReadOnlyList<FakeUpstream> upstreams, Action<MirrorOptions>? configure)
    {
        Fakes = upstreams;
        Root = Path.Combine(Path.GetTempPath(), "oc-failover-" + Guid.NewGuid().ToString("N"));
        Clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero));
        Store = new FileSystemObjectStore(Root);
        var mirror = new MirrorOptions
        {
            IndexTtl = Ttl,
            NotFoundTtl = TimeSpan.FromSeconds(30),
            FailureBackoff = TimeSpan.FromSeconds(5),
            UpstreamMaxAttempts = 2,
            UpstreamCooldown = Cooldown,
            Upstreams = [.. upstreams.Select((u, i) => new UpstreamOptions { IndexUrl = u.IndexUrl, Name = Names[i], Timeout = TimeSpan.FromSeconds(10) })],
        };
        configure?.Invoke(mirror);
        var options = Options.Create(mirror);
        Upstreams = new UpstreamSet(options, Clock, NullLoggerFactory.Instance);
        Coordinator = new CrateCoordinator(
            Store, Upstreams, options, Clock, _lifetime, NullLogger<CrateCoordinator>.Instance);
    }

    public IReadOnlyList<FakeUpstream> Fakes { get; }

    public string Root { get; }

    public FakeTimeProvider Clock { get; }

    public FileSystemObjectStore Store { get; }

    public UpstreamSet Upstreams { get; }

    public CrateCoordinator Coordinator { get; }

    public static FailoverHarness Create(IReadOnlyList<FakeUpstream> upstreams, Action<MirrorOptions>? configure = null) => new(upstreams, configure);

    public Task<IndexResult> IndexAsync(string name) => Coordinator.GetIndexAsync(CrateName.Parse(name), Timeout());

    public Task<CrateFileResult> FileAsync(string name, string version) =>
        Coordinator.OpenCrateFileAsync(CrateName.Parse(name), version, Timeout());

    /// <summary>The state this node keeps about upstream <paramref name="index"/> (as the health output shows it).</summary>
    public UpstreamHealthSnapshot Health(int index) => Upstreams.Status()[index].Health;

    /// <summary>
    /// The crate's index file as stored (shared by every node), or null: once the coordinator's writes are done (an
    /// index document is stored after its answer went out).
    /// </summary>
    public async Task<StoredIndex?> StoredIndexOrNullAsync(string name)
    {
        Assert.True(await Coordinator.WhenDrainedAsync(Timeout()), "the coordinator's writes did not finish");
        var bytes = await Store.ReadSmallOrNullAsync(MirrorKeys.Index(CrateName.Parse(name)), Timeout());
        return bytes is null ? null : StoredIndex.TryDeserialize(bytes.Value.Content);
    }

    public IReadOnlyList<string> StoredFiles(string prefix) =>
        Directory.Exists(Path.Combine(Root, prefix))
            ? Directory.EnumerateFiles(Path.Combine(Root, prefix), "*", SearchOption.AllDirectories).ToList()
            : [];

    public IReadOnlyList<string> TempFiles() =>
        Directory.Exists(Path.Combine(Root, ".tmp")) ? Directory.EnumerateFiles(Path.Combine(Root, ".tmp")).ToList() : [];

    public static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    /// <summary>Starts <paramref name="count"/> fake upstreams serving the same graph.</summary>
    public static async Task<FakeUpstream[]> StartUpstreamsAsync(CrateGraph graph, int count) =>
        await Task.WhenAll(Enumerable.Range(0, count).Select(_ => FakeUpstream.StartAsync(graph)));

    public async ValueTask DisposeAsync()
    {
        // The writes that follow answers end before their folder goes (as in MirrorHarness).
        await Coordinator.WhenDrainedAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        _lifetime.StopApplication();
        Coordinator.Dispose();
        Upstreams.Dispose();
        _lifetime.Dispose();
        foreach (var upstream in Fakes)
        {
            await upstream.DisposeAsync();
        }

        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
