using System.Security.Cryptography;
using OrleansCrates.Mirror;
using OrleansCrates.Testing;

namespace OrleansCrates.Mirror.Tests;

public sealed class CrateCoordinatorFileTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Fact]
    public async Task Concurrent_requests_cause_one_download_and_everyone_gets_verified_bytes()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var crate = Graph.Crates.First(c => c.Name == "MixedCase");
        var slow = upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Slow, Delay = TimeSpan.FromMilliseconds(300) });

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            await using var result = await mirror.FileAsync(crate.Name, crate.Version);
            Assert.Equal(CrateFileStatus.Found, result.Status);
            using var copy = new MemoryStream();
            await result.File!.Content.CopyToAsync(copy);
            return copy.ToArray();
        }));

        Assert.All(results, bytes => Assert.Equal(crate.CrateBytes, bytes));
        Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version));
        Assert.Equal(1, slow.Hits);
    }

    [Fact]
    public async Task Concurrent_requests_for_a_stored_file_cause_one_storage_read_and_then_come_from_memory()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var warm = MirrorHarness.Create(upstream);
        var crate = Graph.Get("abcd", "2.0.1");
        await (await warm.FileAsync(crate.Name, crate.Version)).DisposeAsync();

        // A second node on the same store, with a cold memory: 100 requests at once.
        await using var node = MirrorHarness.Create(upstream, warm.Root, warm.Clock);
        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            await using var result = await node.FileAsync(crate.Name, crate.Version);
            using var copy = new MemoryStream();
            await result.File!.Content.CopyToAsync(copy);
            return copy.ToArray();
        }));

        Assert.All(results, bytes => Assert.Equal(crate.CrateBytes, bytes));
        Assert.Equal(1, node.Counting.Reads);
        Assert.Equal(1, node.Counting.PropertyLookups);
        Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task Build_metadata_versions_are_stored_under_one_key()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var crate = Graph.Crates.First(c => c.Version.Contains('+', StringComparison.Ordinal));

        await using (var result = await mirror.FileAsync(crate.Name, crate.Version))
        {
            Assert.Equal(CrateFileStatus.Found, result.Status);
        }

        var stored = Assert.Single(mirror.StoredFiles("crates"));
        Assert.EndsWith($"{crate.Name.ToLowerInvariant()}-{crate.Version}.crate", stored);
        Assert.Equal(crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(stored))));
    }

    [Theory]
    [InlineData(FaultKind.Truncated, null)] // the abort may land before or after the headers: either failure is right
    [InlineData(FaultKind.WrongBytes, CrateFileStatus.BadUpstreamFile)]
    [InlineData(FaultKind.HtmlErrorPage, CrateFileStatus.BadUpstreamFile)]
    [InlineData(FaultKind.EmptyBody, CrateFileStatus.BadUpstreamFile)]
    [InlineData(FaultKind.Status404, CrateFileStatus.BadUpstreamFile)]
    [InlineData(FaultKind.Reset, CrateFileStatus.UpstreamUnavailable)]
    [InlineData(FaultKind.Status500, CrateFileStatus.UpstreamUnavailable)]
    [InlineData(FaultKind.Status429, CrateFileStatus.UpstreamUnavailable)]
    public async Task A_bad_transfer_stores_nothing_and_a_later_request_succeeds(FaultKind fault, CrateFileStatus? expected)
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var crate = Graph.Crates.First(c => c.Name == "abc");
        upstream.AddFault(new FaultRule { PathContains = "/download", Kind = fault, RetryAfterSeconds = 30 });

        await using (var failed = await mirror.FileAsync(crate.Name, crate.Version))
        {
            Assert.NotEqual(CrateFileStatus.Found, failed.Status);
            Assert.NotEqual(CrateFileStatus.NotFound, failed.Status); // an upstream problem is never "not found"
            if (expected is not null)
            {
                Assert.Equal(expected, failed.Status);
            }

            Assert.Null(failed.File);
            Assert.NotNull(failed.Error);
        }

        Assert.Empty(mirror.StoredFiles("crates"));
        Assert.Empty(mirror.TempFiles());

        upstream.ClearFaults();
        mirror.Clock.Advance(TimeSpan.FromSeconds(31)); // past the Retry-After a 429 asked for
        await using var retried = await mirror.FileAsync(crate.Name, crate.Version);
        Assert.Equal(CrateFileStatus.Found, retried.Status);
        Assert.Equal(CacheOutcome.Miss, retried.Outcome);
        await using var again = await mirror.FileAsync(crate.Name, crate.Version);
        Assert.Equal(CacheOutcome.Hit, again.Outcome);
        Assert.Equal(crate.CrateBytes.Length, retried.File!.Length);
    }

    [Fact]
    public async Task A_cold_fetch_prepares_its_writes_while_upstream_answers()
    {
        await using var stalled = await StalledDownloadAsync(FaultKind.Stall);
        var (_, mirror, crate, stall) = stalled;
        var name = OrleansCrates.Protocol.CrateName.Parse(crate.Name);

        var fetching = mirror.FileAsync(crate.Name, crate.Version);
        await stall.Stalled.WaitAsync(MirrorHarness.Timeout());

        // Upstream is halfway through the file: both writes (the crate's new index document, then the file) are prepared.
        Assert.Equal([MirrorKeys.Index(name), MirrorKeys.CrateFile(name, crate.Version)], mirror.Counting.Prepared);

        stall.Release();
        await using var result = await fetching;
        Assert.Equal(CrateFileStatus.Found, result.Status);
        Assert.Equal(crate.CrateBytes.Length, result.File!.Length);

        // A revalidation of a stored index document replaces it in its folder: nothing to prepare.
        mirror.Clock.Advance(MirrorHarness.Ttl * 2);
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync(crate.Name)).Status);
        Assert.Equal(2, mirror.Counting.Prepared.Count);
    }

    [Fact]
    public async Task A_client_giving_up_does_not_cancel_the_shared_fetch()
    {
        await using var stalled = await StalledDownloadAsync(FaultKind.Stall);
        var (upstream, mirror, crate, stall) = stalled;

        using var leaderClient = new CancellationTokenSource();
        var leader = mirror.FileAsync(crate.Name, crate.Version, leaderClient.Token);
        await stall.Stalled.WaitAsync(MirrorHarness.Timeout());
        var follower = mirror.FileAsync(crate.Name, crate.Version);

        await leaderClient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader);
        stall.Release();

        await using var result = await follower;
        Assert.Equal(CrateFileStatus.Found, result.Status);
        Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task A_request_that_joined_a_run_which_got_bad_bytes_gets_a_fresh_run_of_its_own()
    {
        await using var stalled = await StalledDownloadAsync(FaultKind.StallThenWrongBytes);
        var (upstream, mirror, crate, stall) = stalled;

        var starter = mirror.FileAsync(crate.Name, crate.Version);
        await stall.Stalled.WaitAsync(MirrorHarness.Timeout());
        var joiner = mirror.FileAsync(crate.Name, crate.Version); // joins the stalled run: its transfer began before this request
        stall.Release();

        await using var failed = await starter;
        await using var fresh = await joiner;
        Assert.Equal(CrateFileStatus.BadUpstreamFile, failed.Status); // the run it started is its answer
        Assert.Equal(CrateFileStatus.Found, fresh.Status);
        using var copy = new MemoryStream();
        await fresh.File!.Content.CopyToAsync(copy);
        Assert.Equal(crate.CrateBytes, copy.ToArray());
        Assert.Equal(2, upstream.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task Stored_files_are_served_with_upstream_down()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        var crate = Graph.Crates.First(c => c.Name == "abc");
        await (await mirror.FileAsync(crate.Name, crate.Version)).DisposeAsync();
        await upstream.StopAsync();

        await using var result = await mirror.FileAsync(crate.Name, crate.Version);
        Assert.Equal(CrateFileStatus.Found, result.Status);
    }

    [Fact]
    public async Task Unknown_versions_and_crates_are_not_found_but_an_outage_is_not()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);

        await using (var noVersion = await mirror.FileAsync("abc", "77.0.0"))
        {
            Assert.Equal(CrateFileStatus.NotFound, noVersion.Status);
        }

        await using (var noCrate = await mirror.FileAsync("no-such-crate", "1.0.0"))
        {
            Assert.Equal(CrateFileStatus.NotFound, noCrate.Status);
        }

        await upstream.StopAsync();
        await using var outage = await mirror.FileAsync("ab", "1.0.0");
        Assert.Equal(CrateFileStatus.IndexUnavailable, outage.Status);
    }

    [Fact]
    public async Task A_version_published_after_the_index_was_cached_is_found()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        await using var mirror = MirrorHarness.Create(upstream);
        await mirror.IndexAsync("abc");
        var published = CrateGraph.BuildCrate("abc", "5.0.0");
        upstream.Graph = Graph.With(published);
        mirror.Clock.Advance(TimeSpan.FromSeconds(10)); // index still fresh by TTL

        await using var result = await mirror.FileAsync("abc", "5.0.0");
        Assert.Equal(CrateFileStatus.Found, result.Status);
        Assert.Equal(published.CrateBytes.Length, result.File!.Length);
    }

    /// <summary>A mirror whose upstream holds the next download of crate <c>abc</c> with <paramref name="kind"/> (stall first, then as the kind says).</summary>
    private static async Task<StalledDownload> StalledDownloadAsync(FaultKind kind)
    {
        var upstream = await FakeUpstream.StartAsync(Graph);
        var mirror = MirrorHarness.Create(upstream);
        var stall = upstream.AddFault(new FaultRule { PathContains = "/download", Kind = kind, Times = 1 });
        return new StalledDownload(upstream, mirror, Graph.Crates.First(c => c.Name == "abc"), stall);
    }

    private sealed record StalledDownload(FakeUpstream Upstream, MirrorHarness Mirror, SyntheticCrate Crate, FaultRule Stall) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Mirror.DisposeAsync();
            await Upstream.DisposeAsync();
        }
    }
}
