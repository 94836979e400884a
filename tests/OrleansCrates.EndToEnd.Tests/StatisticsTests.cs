using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Traffic statistics across a cluster: two real mirror processes on one store, each counting its own traffic in memory
/// and flushing it as its own objects; either node's <c>/api/v1/stats</c> shows exactly the sum. And the mirror
/// directory: what one node announces, the other lists.
/// </summary>
public sealed class StatisticsTests : IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-stats-e2e-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
    private readonly List<MirrorProcess> _nodes = [];
    private FakeUpstream _upstream = null!;

    private string Root => Path.Combine(_sandbox, "store");

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(Graph);

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task Statistics_merged_across_two_nodes_equal_the_sum_of_their_traffic()
    {
        Directory.CreateDirectory(Root);
        var alice = await ServerCli.CreateTokenAsync(Root, "alice", "read");
        var bob = await ServerCli.CreateTokenAsync(Root, "bob", "read");
        var settings = new Dictionary<string, string> { ["Statistics__FlushInterval"] = "00:00:01" };
        var one = await StartAsync(settings);
        var two = await StartAsync(settings);

        var x = Graph.Get("abc", "1.1.0");
        var y = Graph.Get("abcd", "2.0.1");
        // Node 1: alice reads the index once and downloads X three times.
        await GetAsync(one, "index/3/a/abc", alice, HttpStatusCode.OK);
        for (var i = 0; i < 3; i++)
        {
            await GetAsync(one, $"crates/{x.Name}/{x.Version}/download", alice, HttpStatusCode.OK);
        }

        // Node 2: bob downloads X twice, alice downloads Y once, and an anonymous client gets a 404.
        for (var i = 0; i < 2; i++)
        {
            await GetAsync(two, $"crates/{x.Name}/{x.Version}/download", bob, HttpStatusCode.OK);
        }

        await GetAsync(two, $"crates/{y.Name}/{y.Version}/download", alice, HttpStatusCode.OK);
        await GetAsync(two, "index/no/-s/no-such", null, HttpStatusCode.NotFound);

        // Each node flushes every second; wait (bounded) until the merged view holds every request, then compare exactly.
        var expectedRequests = 8;
        var stats = await WaitForStatsAsync(one, s => s.GetProperty("totals").GetProperty("requests").GetInt64() >= expectedRequests);
        var totals = stats.GetProperty("totals");
        Assert.Equal(expectedRequests, totals.GetProperty("requests").GetInt64());
        Assert.Equal(6, totals.GetProperty("downloads").GetInt64());
        Assert.Equal((5 * x.CrateBytes.Length) + y.CrateBytes.Length, totals.GetProperty("downloadBytes").GetInt64());
        Assert.Equal(3, totals.GetProperty("uniqueClients").GetInt64()); // alice (on both nodes: once), bob, one address
        // Every answered mirror request has a cache outcome (the index file and six downloads); the 404 has none.
        Assert.Equal(7, totals.GetProperty("hits").GetInt64() + totals.GetProperty("misses").GetInt64() + totals.GetProperty("stale").GetInt64());
        Assert.True(totals.GetProperty("hits").GetInt64() >= 3, $"Expected repeated downloads to be hits: {totals}");

        var crates = stats.GetProperty("topCrates").EnumerateArray().ToDictionary(c => c.GetProperty("crate").GetString()!);
        Assert.Equal(5, crates["abc"].GetProperty("downloads").GetInt64());
        Assert.Equal(5 * x.CrateBytes.Length, crates["abc"].GetProperty("bytes").GetInt64());
        var version = Assert.Single(crates["abc"].GetProperty("versions").EnumerateArray());
        Assert.Equal("1.1.0", version.GetProperty("version").GetString());
        Assert.Equal(5, version.GetProperty("downloads").GetInt64());
        Assert.Equal(1, crates["abcd"].GetProperty("downloads").GetInt64());
        var today = stats.GetProperty("days").EnumerateArray().Last();
        Assert.Equal(expectedRequests, today.GetProperty("requests").GetInt64());

        // Both nodes wrote objects of their own, and the other node merges the same totals.
        var nodes = Directory.GetFiles(Path.Combine(Root, "stats", today.GetProperty("day").GetString()!), "*.json")
            .Select(f => Path.GetFileNameWithoutExtension(f)[..Path.GetFileNameWithoutExtension(f).LastIndexOf('-')])
            .Distinct()
            .ToList();
        Assert.Equal(2, nodes.Count);
        var fromTwo = await WaitForStatsAsync(two, s => s.GetProperty("totals").GetProperty("requests").GetInt64() >= expectedRequests);
        Assert.Equal(totals.ToString(), fromTwo.GetProperty("totals").ToString());

        // No raw client identity is stored: only salted hashes.
        foreach (var file in Directory.GetFiles(Path.Combine(Root, "stats"), "*.json", SearchOption.AllDirectories))
        {
            var text = await File.ReadAllTextAsync(file);
            Assert.DoesNotContain("127.0.0.1", text, StringComparison.Ordinal);
            Assert.DoesNotContain("token:", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_mirror_announced_by_one_node_is_listed_with_its_health_by_the_other()
    {
        var one = await StartAsync(new Dictionary<string, string>
        {
            ["Directory__AnnounceUrl"] = _upstream.BaseUri.ToString(),
            ["Directory__AnnounceName"] = "team mirror",
            ["Directory__CheckInterval"] = "00:00:01",
        });
        var two = await StartAsync(new Dictionary<string, string>
        {
            ["Directory__Mirrors__0__Name"] = "configured",
            ["Directory__Mirrors__0__Url"] = "http://127.0.0.1:9",
            ["Directory__CheckInterval"] = "00:00:01",
        });

        var deadline = Stopwatch.StartNew();
        JsonElement mirrors = default;
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            using var doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri(two.BaseUri, "mirrors.json")));
            mirrors = doc.RootElement.GetProperty("mirrors").Clone();
            if (mirrors.GetArrayLength() == 2 && mirrors.EnumerateArray().All(m => m.GetProperty("check").ValueKind == JsonValueKind.Object))
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.True(mirrors.ValueKind == JsonValueKind.Array && mirrors.GetArrayLength() == 2, $"Expected 2 mirrors with checks on node 2 within 30 s; got {mirrors}");
        var configured = mirrors[0];
        Assert.Equal("configured", configured.GetProperty("source").GetString());
        Assert.Equal("down", configured.GetProperty("check").GetProperty("state").GetString());
        var announced = mirrors[1];
        Assert.Equal("team mirror", announced.GetProperty("name").GetString());
        Assert.Equal("announced", announced.GetProperty("source").GetString());
        Assert.Equal(_upstream.BaseUri.ToString().TrimEnd('/'), announced.GetProperty("url").GetString());
        var check = announced.GetProperty("check");
        Assert.Equal("up", check.GetProperty("state").GetString()); // the fake upstream has no /health/ready, but serves /index/config.json
        Assert.Equal("/index/config.json", check.GetProperty("probe").GetString());
        Assert.True(check.GetProperty("latencyMs").GetDouble() >= 0);
        Assert.Single(Directory.GetFiles(Path.Combine(one.StorageRoot, "directory", "announcements")));
    }

    private async Task<MirrorProcess> StartAsync(Dictionary<string, string> settings)
    {
        var node = await MirrorProcess.StartAsync(_upstream.IndexUrl, Root, settings);
        _nodes.Add(node);
        return node;
    }

    private async Task GetAsync(MirrorProcess node, string path, string? token, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, path));
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", token);
        }

        using var response = await _http.SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        await response.Content.ReadAsByteArrayAsync();
    }

    private async Task<JsonElement> WaitForStatsAsync(MirrorProcess node, Func<JsonElement, bool> done)
    {
        var deadline = Stopwatch.StartNew();
        JsonElement last = default;
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            using var doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri(node.BaseUri, "api/v1/stats?days=2&top=50")));
            last = doc.RootElement.Clone();
            if (done(last))
            {
                return last;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"Expected the merged statistics on {node.BaseUri} to show the traffic within 30 s; last: {last}\n{node.Output}");
    }
}
