using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using OrleansCrates.Testing;
using Xunit.Abstractions;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Cold downloads stream to waiting clients on every silo, not only on the one that downloads: real mirror processes,
/// silos of one Orleans cluster on a real Redis sharing one filesystem root, and a fake upstream that holds a crate
/// half-way. A client on a silo that does not download gets the bytes as they arrive (relayed from the downloading
/// silo's spool over its internal listener), a file that does not verify aborts the relayed transfer and stores
/// nothing, a downloading silo killed mid-stream breaks the relayed transfer and a retry gets the file after takeover.
/// </summary>
public sealed class ClusterStreamingTests(ITestOutputHelper output) : IDisposable
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    /// <summary>The largest crate, so half of it is many bytes.</summary>
    private static readonly SyntheticCrate Crate = Graph.Crates.MaxBy(c => c.CrateBytes.Length)!;

    private readonly HttpClient _http = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, ConnectTimeout = TimeSpan.FromSeconds(10) })
    {
        Timeout = Timeout.InfiniteTimeSpan, // each step has its own deadline below
    };

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(4)).Token;
    private readonly string _root = Directory.CreateTempSubdirectory("oc-relay-").FullName;

    private static string DownloadPath => $"crates/{Crate.Name}/{Crate.Version}/download";

    /// <summary>Bytes a relayed client gets while upstream holds the second half: the downloading silo and the relaying one each hold back the last byte they have.</summary>
    private static int RelayedBeforeRelease => (Crate.CrateBytes.Length / 2) - 2;

    public void Dispose()
    {
        _http.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a killed node may still hold a file briefly.
        }
    }

    [Fact]
    public async Task Stream_a_client_on_a_silo_that_does_not_download_gets_the_bytes_before_upstream_finishes()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAsync(2, upstream, redis);
        MirrorProcess a = cluster[0], b = cluster[1];
        var stall = upstream.AddFault(new FaultRule { PathContains = $"/{Crate.Name}/{Crate.Version}/download", Kind = FaultKind.Stall, Times = 1 });

        // A's client makes A download (the crate's grain is placed on its first caller's silo); upstream holds the second half.
        var viaA = ReadAllAsync(a);
        await WithinAsync(stall.Stalled, TimeSpan.FromSeconds(60), "node A to start the upstream download", cluster);

        var clock = Stopwatch.StartNew();
        using var response = await WithinAsync(
            _http.GetAsync(new Uri(b.BaseUri, DownloadPath), HttpCompletionOption.ResponseHeadersRead, _ct), TimeSpan.FromSeconds(30), "node B's response headers", cluster);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("true", response.Headers.GetValues("X-Mirror-Streaming").Single());
        Assert.Equal(Crate.CrateBytes.Length, response.Content.Headers.ContentLength); // a truncated body is detectable
        await using var body = await response.Content.ReadAsStreamAsync(_ct);
        var first = new byte[RelayedBeforeRelease];
        var firstByte = await WithinAsync(ReadFirstAsync(body, first, clock), TimeSpan.FromSeconds(30), $"node B to relay the {first.Length} bytes upstream sent so far", cluster);
        Assert.Equal(Crate.CrateBytes.AsSpan(0, first.Length).ToArray(), first); // while upstream still holds the second half
        await WithinAsync(b.WaitForOutputAsync("Following download", _ct), TimeSpan.FromSeconds(10), "node B to say it relays A's download", cluster);
        output.WriteLine($"relayed client: first byte {firstByte.TotalSeconds:0.00} s after its request, {first.Length} bytes by {clock.Elapsed.TotalSeconds:0.00} s");

        stall.Release();
        using var all = new MemoryStream();
        all.Write(first);
        await WithinAsync(body.CopyToAsync(all, _ct), TimeSpan.FromSeconds(30), "node B's body to end after the release", cluster);
        Assert.Equal(Crate.CrateBytes, all.ToArray());
        var fromA = await WithinAsync(viaA, TimeSpan.FromSeconds(30), "node A's client to finish", cluster);
        Assert.Equal(Crate.Sha256, fromA);
        Assert.Equal(1, upstream.Downloads(Crate.Name, Crate.Version));
        Assert.True(firstByte < TimeSpan.FromSeconds(15), $"the relayed client's first byte came {firstByte.TotalSeconds:0.0} s after its request: cargo gives up after 30 s of silence");

        // Stored verified: once A's commit (which runs after the answers) is done, B serves it from storage, whole, with its ETag.
        await cluster.SettledAsync();
        using var warm = await _http.GetAsync(new Uri(b.BaseUri, DownloadPath), _ct);
        Assert.Equal(Crate.CrateBytes, await warm.Content.ReadAsByteArrayAsync(_ct));
        Assert.NotNull(warm.Headers.ETag);

        // Both of B's bodies count as served: the relayed one as much as the stored one.
        using var metrics = await _http.GetAsync(new Uri(b.BaseUri, "metrics"), _ct);
        var scrape = PrometheusScrape.Parse(await metrics.Content.ReadAsStringAsync(_ct));
        Assert.Equal(2.0 * Crate.CrateBytes.Length, scrape.Sum("orleanscrates_served_bytes_total", ("registry", "mirror"), ("kind", "crate")));
    }

    [Fact]
    public async Task Stream_a_crate_whose_grain_an_index_request_placed_on_another_silo_is_relayed_to_the_downloading_client()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAsync(2, upstream, redis);
        MirrorProcess a = cluster[0], b = cluster[1];

        // cargo asks for the index first and the load balancer sends it to A: the crate's grain is placed on A.
        await PlaceGrainOnAsync(a);

        // The download goes to B alone; A's grain downloads it, and B relays it to its client as it arrives.
        var stall = upstream.AddFault(new FaultRule { PathContains = $"/{Crate.Name}/{Crate.Version}/download", Kind = FaultKind.Stall, Times = 1 });
        var clock = Stopwatch.StartNew();
        using var response = await WithinAsync(
            _http.GetAsync(new Uri(b.BaseUri, DownloadPath), HttpCompletionOption.ResponseHeadersRead, _ct), TimeSpan.FromSeconds(60), "node B's response headers", cluster);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("true", response.Headers.GetValues("X-Mirror-Streaming").Single());
        await using var body = await response.Content.ReadAsStreamAsync(_ct);
        var first = new byte[RelayedBeforeRelease];
        var firstByte = await WithinAsync(ReadFirstAsync(body, first, clock), TimeSpan.FromSeconds(30), $"node B to relay the {first.Length} bytes upstream sent so far", cluster);
        Assert.Equal(Crate.CrateBytes.AsSpan(0, first.Length).ToArray(), first);
        await WithinAsync(b.WaitForOutputAsync("Following download", _ct), TimeSpan.FromSeconds(10), "node B to say it relays A's download", cluster);
        output.WriteLine($"index on A, download on B: first byte {firstByte.TotalSeconds:0.00} s after the request, {first.Length} bytes by {clock.Elapsed.TotalSeconds:0.00} s");
        stall.Release();

        using var all = new MemoryStream();
        all.Write(first);
        await WithinAsync(body.CopyToAsync(all, _ct), TimeSpan.FromSeconds(30), "node B's body to end after the release", cluster);
        Assert.Equal(Crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(all.ToArray())));
        Assert.Equal(1, upstream.Downloads(Crate.Name, Crate.Version));
        await WithinAsync(a.WaitForOutputAsync($"Stored {Crate.Name} {Crate.Version}", _ct), TimeSpan.FromSeconds(10), "node A (the grain's silo) to say it stored the file", cluster);
        Assert.DoesNotContain($"Stored {Crate.Name} {Crate.Version}", b.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_a_relayed_crate_that_does_not_verify_breaks_the_clients_transfer_and_nothing_is_stored()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAsync(2, upstream, redis);
        MirrorProcess a = cluster[0], b = cluster[1];
        await PlaceGrainOnAsync(a);

        // The first half is right, the second (after the release) inverted: same length, another sha256.
        var stall = upstream.AddFault(new FaultRule { PathContains = $"/{Crate.Name}/{Crate.Version}/download", Kind = FaultKind.StallThenWrongBytes, Times = 1 });
        using var response = await WithinAsync(
            _http.GetAsync(new Uri(b.BaseUri, DownloadPath), HttpCompletionOption.ResponseHeadersRead, _ct), TimeSpan.FromSeconds(60), "node B's response headers", cluster);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Crate.CrateBytes.Length, response.Content.Headers.ContentLength);
        await using var body = await response.Content.ReadAsStreamAsync(_ct);
        var first = new byte[RelayedBeforeRelease];
        await WithinAsync(ReadFirstAsync(body, first, Stopwatch.StartNew()), TimeSpan.FromSeconds(30), "node B to relay the first half", cluster);
        await WithinAsync(b.WaitForOutputAsync("Following download", _ct), TimeSpan.FromSeconds(10), "node B to say it relays A's download", cluster);

        stall.Release();
        var broken = await WithinAsync(BrokenAsync(body, first.Length), TimeSpan.FromSeconds(30), "node B's relayed transfer to break off", cluster);
        output.WriteLine($"relayed client's transfer broke off as expected: {broken}");

        // Nothing was stored (HEAD answers from storage alone); the next request downloads again and gets the right bytes.
        foreach (var node in new[] { a, b })
        {
            using var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri(node.BaseUri, DownloadPath)), _ct);
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        }

        Assert.Equal(Crate.Sha256, await WithinAsync(ReadAllAsync(b), TimeSpan.FromSeconds(60), "the retry on node B", cluster));
        Assert.Equal(2, upstream.Downloads(Crate.Name, Crate.Version));
    }

    [Fact]
    public async Task Stream_a_relayed_client_of_a_downloading_silo_killed_mid_stream_sees_a_broken_transfer_and_a_retry_gets_the_file()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAsync(3, upstream, redis);
        MirrorProcess a = cluster[0], b = cluster[1], c = cluster[2];
        await PlaceGrainOnAsync(a);

        var stall = upstream.AddFault(new FaultRule { PathContains = $"/{Crate.Name}/{Crate.Version}/download", Kind = FaultKind.Stall, Times = 1 });
        using var response = await WithinAsync(
            _http.GetAsync(new Uri(b.BaseUri, DownloadPath), HttpCompletionOption.ResponseHeadersRead, _ct), TimeSpan.FromSeconds(60), "node B's response headers", cluster);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(_ct);
        var first = new byte[RelayedBeforeRelease];
        await WithinAsync(ReadFirstAsync(body, first, Stopwatch.StartNew()), TimeSpan.FromSeconds(30), "node B to relay the first half", cluster);
        Assert.True(stall.Stalled.IsCompleted);

        var killed = Stopwatch.StartNew();
        await a.KillAsync();
        var broken = await WithinAsync(BrokenAsync(body, first.Length), TimeSpan.FromSeconds(30), "node B's relayed transfer to break off after A was killed", cluster);
        output.WriteLine($"relayed transfer broke off {killed.Elapsed.TotalSeconds:0.00} s after the kill: {broken}");

        // cargo retries: on B again, and on C. Both get the file once the crate's grain is activated again.
        var retries = await WithinAsync(Task.WhenAll(ReadAllAsync(b), ReadAllAsync(c)), TimeSpan.FromSeconds(90), "the retries on B and C after the takeover", cluster);
        output.WriteLine($"retries answered {killed.Elapsed.TotalSeconds:0.00} s after the kill");
        Assert.All(retries, sha => Assert.Equal(Crate.Sha256, sha));
        Assert.Equal(2, upstream.Downloads(Crate.Name, Crate.Version)); // A's, broken off by the kill, and the new activation's
    }

    /// <summary>cargo's index request for the crate, sent to <paramref name="node"/>: the crate's grain is placed on that silo.</summary>
    private async Task PlaceGrainOnAsync(MirrorProcess node)
    {
        using var index = await _http.GetAsync(new Uri(node.BaseUri, "index/" + RegistryPaths.IndexPath(Crate.Name)), _ct);
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
    }

    /// <summary>Reads the rest of a body that must break off (never end as if complete); returns the error the client saw.</summary>
    private async Task<string> BrokenAsync(Stream body, int alreadyRead)
    {
        using var rest = new MemoryStream();
        try
        {
            await body.CopyToAsync(rest, _ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return $"{e.GetType().Name}: {e.Message} (after {alreadyRead + rest.Length} bytes)";
        }

        Assert.Fail($"the relayed body ended as if complete after {alreadyRead + rest.Length} bytes (of {Crate.CrateBytes.Length}) instead of breaking off");
        return "";
    }

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="body"/>; returns when its first byte came on <paramref name="clock"/>.</summary>
    private static async Task<TimeSpan> ReadFirstAsync(Stream body, byte[] buffer, Stopwatch clock)
    {
        var read = await body.ReadAtLeastAsync(buffer, 1);
        var first = clock.Elapsed;
        await body.ReadExactlyAsync(buffer.AsMemory(read));
        return first;
    }

    /// <summary>A whole download through <paramref name="node"/>; returns the body's sha256.</summary>
    private async Task<string> ReadAllAsync(MirrorProcess node)
    {
        using var response = await _http.GetAsync(new Uri(node.BaseUri, DownloadPath), _ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Convert.ToHexStringLower(SHA256.HashData(await response.Content.ReadAsByteArrayAsync(_ct)));
    }

    private async Task<MirrorCluster> StartAsync(int nodes, FakeUpstream upstream, RedisProcess redis)
    {
        var cluster = await MirrorCluster.StartAsync(nodes, upstream.IndexUrl, ClusterStorage.FileSystem(_root), redis, cancellationToken: _ct);
        foreach (var node in cluster.Nodes)
        {
            await cluster.WaitForActiveSilosAsync(node, nodes, _ct);
        }

        return cluster;
    }

    private static async Task<T> WithinAsync<T>(Task<T> task, TimeSpan timeout, string expectation, MirrorCluster cluster)
    {
        await WithinAsync((Task)task, timeout, expectation, cluster);
        return await task;
    }

    private static async Task WithinAsync(Task task, TimeSpan timeout, string expectation, MirrorCluster cluster)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for {expectation}.\n{cluster.Output}");
        }
    }
}
