using System.Net;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// A store whose disk fills up for real (a tmpfs), an upstream that drips its bytes, and many probes for names that do
/// not exist, each against a real mirror process.
/// </summary>
public sealed class StorageAndTransferHardeningTests : IDisposable
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-hardening-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task A_full_disk_is_a_storage_failure_not_an_upstream_one_and_the_node_recovers_when_space_returns()
    {
        var ct = Deadline();
        await using var disk = await TmpfsMount.MountAsync(8 * 1024 * 1024, ct);
        await using var receiver = await AlertReceiver.StartAsync(ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var mirror = await MirrorProcess.StartAsync(
            upstream.IndexUrl,
            Path.Combine(disk.Path, "store"),
            new Dictionary<string, string>
            {
                ["Alerts__WebhookUrl"] = receiver.Url.ToString(),
                ["Alerts__CheckInterval"] = "00:00:00.200",
                ["Alerts__NodeName"] = "full-disk-node",
            },
            ct);
        var held = Graph.Get("abc", "1.1.0");
        var fresh = Graph.Get("MixedCase", "1.1.0");
        using (var first = await GetAsync(mirror, Download(held), ct))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        await disk.FillAsync(ct);

        using (var refused = await GetAsync(mirror, Download(fresh), ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Contains("no space left", await refused.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        }

        using (var stillServed = await GetAsync(mirror, Download(held), ct))
        {
            Assert.Equal(HttpStatusCode.OK, stillServed.StatusCode);
            Assert.Equal(held.CrateBytes, await stillServed.Content.ReadAsByteArrayAsync(ct));
        }

        using (var health = await ReadyAsync(mirror, ct))
        {
            var storage = health.RootElement.GetProperty("storage");
            Assert.Equal("ready", health.RootElement.GetProperty("status").GetString());
            Assert.True(storage.GetProperty("healthy").GetBoolean());
            Assert.False(storage.GetProperty("writable").GetBoolean());
            Assert.True(storage.GetProperty("writeFailures").GetInt64() >= 1);
            Assert.Equal("no space left on the storage device", storage.GetProperty("lastWriteError").GetString());
            Assert.Equal("up", health.RootElement.GetProperty("upstreams")[0].GetProperty("state").GetString());
        }

        var failed = await receiver.WaitForAsync("storage_write_failed", null, mirror, ct);
        Assert.Equal("storage", failed.Component);

        disk.Free();

        using (var recovered = await GetAsync(mirror, Download(fresh), ct))
        {
            Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
            Assert.Equal(fresh.CrateBytes, await recovered.Content.ReadAsByteArrayAsync(ct));
        }

        await receiver.WaitForAsync("storage_write_recovered", null, mirror, ct);
        using (var health = await ReadyAsync(mirror, ct))
        {
            Assert.True(health.RootElement.GetProperty("storage").GetProperty("writable").GetBoolean());
        }

        Assert.DoesNotContain(receiver.Accepted, a => a.Event is "upstream_failing" or "storage_failed");
        await mirror.SettledAsync(); // the file's commit may still run after its answer
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(disk.Path, "store", ".tmp")));
    }

    [Fact]
    public async Task A_slow_drip_upstream_is_left_for_the_next_one_and_every_waiting_client_gets_the_file()
    {
        var ct = Deadline();
        await using var primary = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var secondary = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        var crate = Graph.Get("MixedCase", "1.1.0");
        // One byte every half second: never idle long enough for a timeout, and hours for the whole file.
        var drip = primary.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Drip, Delay = TimeSpan.FromMilliseconds(500) });
        await using var mirror = await MirrorProcess.StartAsync(
            primary.IndexUrl,
            Path.Combine(_sandbox, "store"),
            new Dictionary<string, string>
            {
                ["Mirror__Upstreams__0__Name"] = "primary",
                ["Mirror__Upstreams__0__Timeout"] = "00:00:02",
                ["Mirror__Upstreams__1__IndexUrl"] = secondary.IndexUrl,
                ["Mirror__Upstreams__1__Name"] = "secondary",
            },
            ct);

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => GetAsync(mirror, Download(crate), ct)));
        foreach (var response in responses)
        {
            using (response)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(crate.CrateBytes, await response.Content.ReadAsByteArrayAsync(ct));
            }
        }

        Assert.Equal(1, drip.Hits);
        using var health = await ReadyAsync(mirror, ct);
        var first = health.RootElement.GetProperty("upstreams")[0];
        Assert.Equal("down", first.GetProperty("state").GetString());
        Assert.Contains("timed out", first.GetProperty("lastError").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probing_names_that_do_not_exist_leaves_no_lock_file_behind()
    {
        var ct = Deadline();
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        var root = Path.Combine(_sandbox, "store");
        await using var mirror = await MirrorProcess.StartAsync(upstream.IndexUrl, root, cancellationToken: ct);

        await Parallel.ForEachAsync(Enumerable.Range(0, 300), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, token) =>
        {
            using var response = await GetAsync(mirror, "index/" + RegistryPaths.IndexPath($"no-such-crate-{i}"), token);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        });
        using (var missingVersion = await GetAsync(mirror, "crates/no-such-crate-1/1.0.0/download", ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, missingVersion.StatusCode);
        }

        Assert.Equal(300, Enumerable.Range(0, 300).Count(i => upstream.IndexRequests($"no-such-crate-{i}") == 1));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, ".locks")));
    }

    private static string Download(SyntheticCrate crate) => $"crates/{crate.Name}/{crate.Version}/download";

    private Task<HttpResponseMessage> GetAsync(MirrorProcess mirror, string path, CancellationToken ct) =>
        _http.GetAsync(new Uri(mirror.BaseUri, path), ct);

    private async Task<JsonDocument> ReadyAsync(MirrorProcess mirror, CancellationToken ct) =>
        JsonDocument.Parse(await _http.GetStringAsync(new Uri(mirror.BaseUri, "health/ready"), ct));

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token;
}
