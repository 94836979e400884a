using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>A coordinator over a real filesystem store and a real (fake) upstream on loopback, with a hand-moved clock.</summary>
public sealed class MirrorHarness : IAsyncDisposable
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);

    private readonly StandaloneLifetime _lifetime = new();
    private readonly UpstreamSet _upstreams;

    private MirrorHarness(FakeUpstream upstream, string root, FakeTimeProvider clock, bool ownsRoot)
    {
        Upstream = upstream;
        Root = root;
        Clock = clock;
        OwnsRoot = ownsRoot;
        Store = new FileSystemObjectStore(root);
        Counting = new CountingObjectStore(Store);
        var options = Options.Create(new MirrorOptions
        {
            IndexTtl = Ttl,
            NotFoundTtl = TimeSpan.FromSeconds(30),
            FailureBackoff = TimeSpan.FromSeconds(5),
            UpstreamMaxAttempts = 1,
            Upstreams = [new UpstreamOptions { IndexUrl = upstream.IndexUrl, Timeout = TimeSpan.FromSeconds(10) }],
        });
        _upstreams = new UpstreamSet(options, clock, NullLoggerFactory.Instance);
        Coordinator = new CrateCoordinator(
            Counting, _upstreams, options, clock, _lifetime, NullLogger<CrateCoordinator>.Instance);
    }

    public FakeUpstream Upstream { get; }

    public string Root { get; }

    public bool OwnsRoot { get; }

    public FakeTimeProvider Clock { get; }

    public FileSystemObjectStore Store { get; }

    /// <summary>The store as the coordinator sees it, counting the calls that reach storage.</summary>
    public CountingObjectStore Counting { get; }

    public CrateCoordinator Coordinator { get; }

    public static MirrorHarness Create(FakeUpstream upstream, string? sharedRoot = null, FakeTimeProvider? clock = null) =>
        new(upstream, sharedRoot ?? Path.Combine(Path.GetTempPath(), "oc-core-" + Guid.NewGuid().ToString("N")),
            clock ?? new FakeTimeProvider(new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero)), sharedRoot is null);

    public Task<IndexResult> IndexAsync(string name) => Coordinator.GetIndexAsync(CrateName.Parse(name), Timeout());

    /// <summary>Waits for the index document this node answered with to be stored (answers go out before their write).</summary>
    public Task IndexStoredAsync(string name) => Coordinator.WhenIndexStoredAsync(CrateName.Parse(name), Timeout());

    public Task<CrateFileResult> FileAsync(string name, string version, CancellationToken? cancellationToken = null) =>
        Coordinator.OpenCrateFileAsync(CrateName.Parse(name), version, cancellationToken ?? Timeout());

    /// <summary>Every file under the store root except its own temp and lock folders.</summary>
    public IReadOnlyList<string> StoredFiles(string prefix) =>
        Directory.Exists(Path.Combine(Root, prefix))
            ? Directory.EnumerateFiles(Path.Combine(Root, prefix), "*", SearchOption.AllDirectories).ToList()
            : [];

    public IReadOnlyList<string> TempFiles() => Directory.EnumerateFiles(Path.Combine(Root, ".tmp")).ToList();

    public static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    public async ValueTask DisposeAsync()
    {
        // Answers go out before their index documents are stored and while verified files commit: let that work end
        // before its folder is deleted. A test that leaves a fetch stalled gives up waiting here; the stop abandons it.
        await Coordinator.WhenDrainedAsync(TimeSpan.FromSeconds(10), CancellationToken.None);

        _lifetime.StopApplication();
        Coordinator.Dispose();
        _upstreams.Dispose();
        _lifetime.Dispose();
        if (OwnsRoot && Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
