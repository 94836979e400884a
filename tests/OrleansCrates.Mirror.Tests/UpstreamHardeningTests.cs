using OrleansCrates.Mirror;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// Upstream answers that used to be taken for good ones: a 200 that is not an index file, an index redirect to another
/// host, a download that drips one byte at a time. Real fake upstreams on loopback, a real filesystem store.
/// </summary>
public sealed class UpstreamHardeningTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Theory]
    [InlineData(FaultKind.HtmlErrorPage)]
    [InlineData(FaultKind.EmptyBody)]
    public async Task A_200_that_is_not_an_index_file_fails_over_and_marks_the_upstream_down(FaultKind fault)
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/index/", Kind = fault });

        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.Equal(Graph.IndexFileFor("abc"), result.Entry!.Stored!.Body);
        Assert.Equal("secondary", (await mirror.StoredIndexOrNullAsync("abc"))!.Upstream);
        Assert.Equal(UpstreamState.Down, mirror.Health(0).State);
        Assert.Contains("not its index file", mirror.Health(0).LastError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FaultKind.HtmlErrorPage)]
    [InlineData(FaultKind.EmptyBody)]
    public async Task With_one_upstream_a_200_that_is_not_an_index_file_leaves_the_good_copy_served_and_stored(FaultKind fault)
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var good = Graph.IndexFileFor("abc");
        Assert.Equal(IndexStatus.Found, (await mirror.IndexAsync("abc")).Status);
        var before = await mirror.StoredIndexOrNullAsync("abc");
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/index/", Kind = fault });
        mirror.Clock.Advance(FailoverHarness.Ttl + TimeSpan.FromSeconds(1));

        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.True(result.IsStale);
        Assert.Equal(good, result.Entry!.Stored!.Body);
        var after = await mirror.StoredIndexOrNullAsync("abc");
        Assert.Equal(good, after!.Body);
        Assert.Equal(before!.FetchedAt, after.FetchedAt);
    }

    [Fact]
    public async Task An_index_redirect_to_another_host_is_not_followed()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        await using var elsewhere = await FakeUpstream.StartAsync(Graph);
        mirror.Fakes[0].AddFault(new FaultRule
        {
            PathContains = "/index/",
            Kind = FaultKind.Canned,
            Answer = new CannedAnswer(302, [new("Location", elsewhere.IndexFileUrl("abc").ToString())], []),
        });

        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Unavailable, result.Status);
        Assert.Contains("not followed", result.Error, StringComparison.Ordinal);
        Assert.Equal(0, elsewhere.TotalRequests);
        Assert.Null(await mirror.StoredIndexOrNullAsync("abc"));
    }

    [Fact]
    public async Task An_index_redirect_within_the_upstreams_origin_is_followed()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        var moved = mirror.Fakes[0].AddFault(new FaultRule
        {
            PathContains = "/index/3/a/abc",
            Kind = FaultKind.Canned,
            Times = 1,
            Answer = new CannedAnswer(301, [new("Location", "{base}/index/3/a/abc")], []),
        });

        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.Equal(Graph.IndexFileFor("abc"), result.Entry!.Stored!.Body);
        Assert.Equal(1, moved.Hits);
        Assert.Equal(2, mirror.Fakes[0].IndexRequests("abc"));
    }

    [Fact]
    public async Task A_download_redirect_to_another_host_is_followed_as_crates_io_does_for_its_cdn()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1));
        await using var cdn = await FakeUpstream.StartAsync(Graph);
        var crate = Graph.Get("abc", "1.1.0");
        mirror.Fakes[0].AddFault(new FaultRule
        {
            PathContains = "/download",
            Kind = FaultKind.Canned,
            Answer = new CannedAnswer(302, [new("Location", cdn.DownloadUrl(crate).ToString())], []),
        });

        await using var result = await mirror.FileAsync(crate.Name, crate.Version);

        Assert.Equal(CrateFileStatus.Found, result.Status);
        Assert.Equal(1, cdn.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task A_slow_drip_download_fails_over_and_every_waiting_client_gets_the_file()
    {
        await using var mirror = FailoverHarness.Create(
            await FailoverHarness.StartUpstreamsAsync(Graph, 2),
            o => o.Upstreams[0].Timeout = TimeSpan.FromSeconds(1));
        var crate = Graph.Get("MixedCase", "1.1.0");
        await mirror.IndexAsync(crate.Name);
        // A byte every 200 ms never trips the 1 s idle timeout; only the minimum rate ends it.
        var drip = mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Drip, Delay = TimeSpan.FromMilliseconds(200) });

        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => mirror.FileAsync(crate.Name, crate.Version)));

        Assert.All(results, r => Assert.Equal(CrateFileStatus.Found, r.Status));
        Assert.All(results, r => Assert.Equal(crate.CrateBytes.Length, r.File!.Length));
        foreach (var result in results)
        {
            await result.DisposeAsync();
        }

        Assert.Equal(1, drip.Hits); // one shared transfer, however many waited
        Assert.Equal(UpstreamState.Down, mirror.Health(0).State);
        Assert.Contains("timed out", mirror.Health(0).LastError, StringComparison.Ordinal);
        Assert.Equal(1, mirror.Fakes[1].Downloads(crate.Name, crate.Version));
        Assert.Empty(mirror.TempFiles());
    }

    [Fact]
    public async Task A_slow_drip_index_file_fails_over_to_the_next_upstream()
    {
        await using var mirror = FailoverHarness.Create(
            await FailoverHarness.StartUpstreamsAsync(Graph, 2),
            o => o.Upstreams[0].Timeout = TimeSpan.FromSeconds(1));
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/index/", Kind = FaultKind.Drip, Delay = TimeSpan.FromMilliseconds(200) });

        var result = await mirror.IndexAsync("abc");

        Assert.Equal(IndexStatus.Found, result.Status);
        Assert.Equal("secondary", (await mirror.StoredIndexOrNullAsync("abc"))!.Upstream);
        Assert.Contains("timed out", mirror.Health(0).LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_configured_transfer_deadline_ends_a_drip_even_without_a_minimum_rate()
    {
        await using var mirror = FailoverHarness.Create(
            await FailoverHarness.StartUpstreamsAsync(Graph, 1),
            o =>
            {
                o.Upstreams[0].MinBytesPerSecond = 0;
                o.Upstreams[0].TransferDeadline = TimeSpan.FromSeconds(2);
            });
        var crate = Graph.Get("abc", "1.1.0");
        await mirror.IndexAsync(crate.Name);
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Drip, Delay = TimeSpan.FromMilliseconds(100) });

        await using var result = await mirror.FileAsync(crate.Name, crate.Version);

        Assert.Equal(CrateFileStatus.UpstreamUnavailable, result.Status);
        Assert.Contains("deadline", result.Error, StringComparison.Ordinal);
        Assert.Empty(mirror.StoredFiles("crates"));
        Assert.Empty(mirror.TempFiles());
    }

    [Fact]
    public async Task A_crate_file_larger_than_MaxCrateBytes_is_not_stored()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 1), o => o.MaxCrateBytes = 100);
        var crate = Graph.Get("abc", "1.1.0");

        await using var result = await mirror.FileAsync(crate.Name, crate.Version);

        Assert.Equal(CrateFileStatus.BadUpstreamFile, result.Status);
        Assert.Contains("MaxCrateBytes", result.Error, StringComparison.Ordinal);
        Assert.Empty(mirror.StoredFiles("crates"));
    }
}
