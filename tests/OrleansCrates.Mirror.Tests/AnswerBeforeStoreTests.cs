using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Operations;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// A cold request is answered as soon as what it asked for is verified, not once it is stored: a crate file from the
/// download's verified spool while the commit runs, a new index document from memory while it is written. Each write
/// here is held open by the test, so what callers get meanwhile, and what storage holds, is seen for certain.
/// </summary>
public sealed class AnswerBeforeStoreTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task A_cold_crate_file_is_answered_whole_and_verified_while_its_commit_runs()
    {
        await using var node = await Node.StartAsync();
        var (crate, key, commit) = node.HoldCrateCommit();

        await using var result = await node.FileAsync(crate);

        Assert.Equal(CrateFileStatus.Found, result.Status);
        var verified = Assert.IsType<SpoolRead>(result.Streaming);
        Assert.True(verified.Verified);
        Assert.Equal(crate.CrateBytes.Length, verified.Length);
        Assert.Equal(crate.CrateBytes, await ReadAllAsync(verified.Content));

        // The commit has not happened: nothing is stored, and the node is not settled.
        await commit.Reached.WaitAsync(Node.Timeout());
        Assert.Null(await node.Store.Inner.GetPropertiesOrNullAsync(key, Node.Timeout()));
        var settled = node.Coordinator.WhenDrainedAsync(Node.Timeout());
        Assert.False(settled.IsCompleted);

        commit.Release();
        Assert.True(await settled);
        Assert.NotNull(await node.Store.Inner.GetPropertiesOrNullAsync(key, Node.Timeout()));
        await using var again = await node.FileAsync(crate);
        Assert.Equal(CacheOutcome.Hit, again.Outcome);
        Assert.Equal(1, node.Upstream.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task A_commit_that_fails_after_the_answer_leaves_nothing_stored_and_the_next_request_fetches_again()
    {
        await using var node = await Node.StartAsync();
        var (crate, key, commit) = node.HoldCrateCommit();

        await using (var result = await node.FileAsync(crate))
        {
            Assert.Equal(crate.CrateBytes, await ReadAllAsync(result.Streaming!.Content)); // the client has its file
        }

        commit.Fail(new IOException("No space left on device"));
        Assert.True(await node.Coordinator.WhenDrainedAsync(Node.Timeout()));
        Assert.Null(await node.Store.Inner.GetPropertiesOrNullAsync(key, Node.Timeout()));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(node.Root, ".tmp")));

        await using var again = await node.FileAsync(crate);
        Assert.Equal(CrateFileStatus.Found, again.Status);
        Assert.Equal(2, node.Upstream.Downloads(crate.Name, crate.Version));
        Assert.True(await node.Coordinator.WhenDrainedAsync(Node.Timeout()));
        Assert.NotNull(await node.Store.Inner.GetPropertiesOrNullAsync(key, Node.Timeout()));
    }

    [Fact]
    public async Task A_bad_file_is_never_answered_early()
    {
        await using var node = await Node.StartAsync();
        var crate = Graph.Get("abc", "1.1.0");
        node.Upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.WrongBytes });

        await using var result = await node.FileAsync(crate);

        Assert.Equal(CrateFileStatus.BadUpstreamFile, result.Status);
        Assert.Null(result.Streaming);
        Assert.True(await node.Coordinator.WhenDrainedAsync(Node.Timeout()));
        Assert.Null(await node.Store.Inner.GetPropertiesOrNullAsync(MirrorKeys.CrateFile(CrateName.Parse(crate.Name), crate.Version), Node.Timeout()));
    }

    [Fact]
    public async Task A_new_index_file_is_answered_while_it_is_stored_and_the_next_refresh_waits_for_that_write()
    {
        await using var node = await Node.StartAsync();
        var name = CrateName.Parse("abc");
        var key = MirrorKeys.Index(name);
        var write = node.Store.HoldNextBegin(key); // the write's first, synchronous steps: not on the answer's path either

        var answer = await node.Coordinator.GetIndexAsync(name, Node.Timeout());

        Assert.Equal(IndexStatus.Found, answer.Status);
        Assert.Equal(Graph.IndexFileFor("abc"), answer.Entry!.Stored!.Body);
        await write.Reached.WaitAsync(Node.Timeout());
        Assert.Null(await node.Store.Inner.ReadSmallOrNullAsync(key, Node.Timeout()));
        var stored = node.Coordinator.WhenIndexStoredAsync(name, Node.Timeout());
        Assert.False(stored.IsCompleted);

        // Past its TTL the copy is revalidated; the owner reads the stored document first, so it waits for this write.
        node.Clock.Advance(Node.Ttl * 2);
        var revalidating = node.Coordinator.GetIndexAsync(name, Node.Timeout());
        write.Release();
        await stored;
        Assert.Equal(IndexStatus.Found, (await revalidating).Status);
        Assert.True(await node.Coordinator.WhenDrainedAsync(Node.Timeout()));

        // It revalidated against the document it had stored (conditionally, replacing exactly that one): no conflict.
        Assert.Equal(0, node.Coordinator.IndexWriteConflicts);
        Assert.Equal(2, node.Upstream.IndexRequests("abc"));
        var document = StoredIndex.TryDeserialize((await node.Store.Inner.ReadSmallOrNullAsync(key, Node.Timeout()))!.Value.Content)!;
        Assert.Equal(node.Clock.GetUtcNow(), document.FetchedAt);
    }

    private static async Task<byte[]> ReadAllAsync(Stream content)
    {
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy, Node.Timeout());
        return copy.ToArray();
    }

    /// <summary>A coordinator with in-flight spools (as the server has) over a real filesystem store whose commits can be held.</summary>
    private sealed class Node : IAsyncDisposable
    {
        public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);

        private readonly StandaloneLifetime _lifetime = new();
        private readonly UpstreamSet _upstreams;

        private Node(FakeUpstream upstream)
        {
            Upstream = upstream;
            Root = Path.Combine(Path.GetTempPath(), "oc-early-" + Guid.NewGuid().ToString("N"));
            Store = new HeldCommitStore(new FileSystemObjectStore(Root));
            var options = Options.Create(new MirrorOptions
            {
                IndexTtl = Ttl,
                UpstreamMaxAttempts = 1,
                Upstreams = [new UpstreamOptions { IndexUrl = upstream.IndexUrl, Timeout = TimeSpan.FromSeconds(10) }],
            });
            _upstreams = new UpstreamSet(options, Clock, NullLoggerFactory.Instance);
            Coordinator = new CrateCoordinator(
                Store, _upstreams, options, Clock, _lifetime, NullLogger<CrateCoordinator>.Instance,
                spools: new InFlightSpools(Path.Combine(Root, "spools")));
        }

        public FakeUpstream Upstream { get; }

        public string Root { get; }

        public HeldCommitStore Store { get; }

        public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));

        public CrateCoordinator Coordinator { get; }

        public static async Task<Node> StartAsync() => new(await FakeUpstream.StartAsync(Graph));

        public static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

        /// <summary>A crate file whose next commit is held: the crate, its storage key and the hold.</summary>
        public (SyntheticCrate Crate, string Key, HeldCommitStore.Hold Commit) HoldCrateCommit()
        {
            var crate = Graph.Get("abc", "1.1.0");
            var key = MirrorKeys.CrateFile(CrateName.Parse(crate.Name), crate.Version);
            return (crate, key, Store.HoldNextCommit(key));
        }

        public Task<CrateFileResult> FileAsync(SyntheticCrate crate) =>
            Coordinator.OpenCrateFileAsync(CrateName.Parse(crate.Name), crate.Version, Timeout());

        public async ValueTask DisposeAsync()
        {
            // The writes that follow answers end before their folder goes (as in MirrorHarness).
            await Coordinator.WhenDrainedAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            _lifetime.StopApplication();
            Coordinator.Dispose();
            _upstreams.Dispose();
            _lifetime.Dispose();
            await Upstream.DisposeAsync();
            if (Directory.Exists(Root))
            {
                Directory.Delete(Root, recursive: true);
            }
        }
    }
}
