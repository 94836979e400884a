using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>The mirror's HTTP contract, checked against a real server process and the fake upstream.</summary>
public sealed class MirrorHttpTests : IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-http-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
    private FakeUpstream _upstream = null!;
    private MirrorProcess _mirror = null!;

    private string Root => Path.Combine(_sandbox, "store");

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(Graph);
    }

    public async Task DisposeAsync()
    {
        if (_mirror is not null)
        {
            await _mirror.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task Config_points_downloads_back_at_this_mirror()
    {
        await StartMirrorAsync();
        using var response = await _http.GetAsync(Url("index/config.json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var config = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(_mirror.BaseUri + "crates/{crate}/{version}/download", config.RootElement.GetProperty("dl").GetString());
        Assert.False(config.RootElement.TryGetProperty("auth-required", out _));
        Assert.False(config.RootElement.TryGetProperty("api", out _)); // a read-only mirror
        await AssertRevalidatesAsync("index/config.json", response);

        await _mirror.DisposeAsync();
        await StartMirrorAsync(("Mirror__PublicUrl", "https://crates.example.com/"));
        var configured = JsonDocument.Parse(await _http.GetStringAsync(Url("index/config.json")));
        Assert.Equal("https://crates.example.com/crates/{crate}/{version}/download", configured.RootElement.GetProperty("dl").GetString());
    }

    [Fact]
    public async Task With_dependency_prefetch_on_the_index_files_below_a_requested_one_are_fetched_before_cargo_asks_for_them()
    {
        // mixed-dash_under -> under_score -> dash-name -> MixedCase -> ab -> a: upstream holds a's answer until released.
        var stall = _upstream.AddFault(new FaultRule { PathContains = "/index/" + RegistryPaths.IndexPath("a"), Kind = FaultKind.Stall, Times = 1 });
        await StartMirrorAsync(("Mirror__PrefetchDependencyIndexes", "true"));

        using (var top = await _http.GetAsync(Url("index/" + RegistryPaths.IndexPath("mixed-dash_under"))))
        {
            Assert.Equal(HttpStatusCode.OK, top.StatusCode);
        }

        // No client asked for anything below it, yet the mirror walks the chain to its end, one upstream request a file.
        await stall.Stalled.WaitAsync(Deadline());
        Assert.All(new[] { "under_score", "dash-name", "MixedCase", "ab" }, name => Assert.Equal(1, _upstream.IndexRequests(name)));
        stall.Release();

        // cargo's requests for them: the files as upstream has them, and upstream is not asked again.
        foreach (var name in new[] { "under_score", "dash-name", "MixedCase", "ab", "a" })
        {
            using var response = await _http.GetAsync(Url("index/" + RegistryPaths.IndexPath(name)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Graph.IndexFileFor(name), await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(1, _upstream.IndexRequests(name));
        }
    }

    [Fact]
    public async Task Index_files_pass_through_byte_for_byte_with_strong_etags()
    {
        await StartMirrorAsync();
        foreach (var name in Graph.Names)
        {
            var path = "index/" + RegistryPaths.IndexPath(name);
            using var response = await _http.GetAsync(Url(path));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Graph.IndexFileFor(name), await response.Content.ReadAsByteArrayAsync());
            Assert.False(response.Headers.ETag!.IsWeak);
            await AssertRevalidatesAsync(path, response);

            // Paths are case-insensitive, and every spelling is the same entry.
            var upper = await _http.GetByteArrayAsync(Url(path.ToUpperInvariant().Replace("INDEX/", "index/", StringComparison.Ordinal)));
            Assert.Equal(Graph.IndexFileFor(name), upper);
            Assert.Equal(1, _upstream.IndexRequests(name));
        }
    }

    [Fact]
    public async Task Unknown_crates_are_404_and_remembered()
    {
        await StartMirrorAsync();
        for (var i = 0; i < 3; i++)
        {
            using var response = await _http.GetAsync(Url("index/no/-s/no-such"));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.Equal(1, _upstream.IndexRequests("no-such"));
    }

    [Fact]
    public async Task An_outage_with_nothing_cached_is_503_with_retry_after_never_404()
    {
        await StartMirrorAsync();
        await _upstream.StopAsync();
        using var index = await _http.GetAsync(Url("index/3/a/abc"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, index.StatusCode);
        Assert.NotNull(index.Headers.RetryAfter);

        using var download = await _http.GetAsync(Url("crates/abc/1.1.0/download"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, download.StatusCode);
        Assert.NotNull(download.Headers.RetryAfter);
    }

    [Fact]
    public async Task A_stale_index_is_served_with_its_age_when_upstream_fails()
    {
        await StartMirrorAsync(("Mirror__IndexTtl", "00:00:00"));
        var good = await _http.GetByteArrayAsync(Url("index/3/a/abc"));
        await _upstream.StopAsync();

        using var stale = await _http.GetAsync(Url("index/3/a/abc"));
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Equal(good, await stale.Content.ReadAsByteArrayAsync());
        Assert.NotNull(stale.Headers.Age);
        Assert.True(stale.Headers.Contains("X-Index-Stale"));
    }

    [Fact]
    public async Task Downloads_are_verified_immutable_and_never_compressed()
    {
        await StartMirrorAsync();
        var crate = Graph.Get("MixedCase", "1.1.0");
        using var request = new HttpRequestMessage(HttpMethod.Get, Url($"crates/{crate.Name}/{crate.Version}/download"));
        request.Headers.AcceptEncoding.ParseAdd("gzip, br");
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(crate.CrateBytes.Length, response.Content.Headers.ContentLength);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.True(response.Headers.CacheControl!.Public);
        Assert.Equal(TimeSpan.FromDays(365), response.Headers.CacheControl.MaxAge);
        Assert.Contains("immutable", response.Headers.CacheControl.ToString(), StringComparison.Ordinal);
        Assert.Equal(crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(await response.Content.ReadAsByteArrayAsync())));
    }

    [Fact]
    public async Task Build_metadata_works_raw_and_percent_encoded_as_one_stored_file()
    {
        await StartMirrorAsync();
        var crate = Graph.Crates.Single(c => c.Version.Contains('+', StringComparison.Ordinal));
        var raw = await _http.GetByteArrayAsync(Url($"crates/{crate.Name}/{crate.Version}/download"));
        var encoded = await _http.GetByteArrayAsync(Url($"crates/{crate.Name}/{crate.Version.Replace("+", "%2B", StringComparison.Ordinal)}/download"));
        var lower = await _http.GetByteArrayAsync(Url($"crates/{crate.Name}/{crate.Version.Replace("+", "%2b", StringComparison.Ordinal)}/download"));

        Assert.Equal(crate.CrateBytes, raw);
        Assert.Equal(raw, encoded);
        Assert.Equal(raw, lower);
        Assert.Equal(1, _upstream.Downloads(crate.Name, crate.Version));
        await _mirror.SettledAsync();
        Assert.Single(Directory.EnumerateFiles(Path.Combine(Root, "crates"), "*.crate", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Settled_answers_once_no_fetch_or_write_is_in_flight_and_says_when_one_is()
    {
        await StartMirrorAsync();
        var crate = Graph.Get("abc", "1.1.0");
        Assert.Equal("settled\n", await _http.GetStringAsync(Url("health/settled"))); // nothing ever fetched

        var stall = _upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Stall, Times = 1 });
        var download = _http.GetAsync(Url($"crates/{crate.Name}/{crate.Version}/download"));
        await stall.Stalled.WaitAsync(TimeSpan.FromSeconds(60));
        using (var busy = await _http.GetAsync(Url("health/settled?timeout=0")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Contains("in flight", await busy.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.NotNull(busy.Headers.RetryAfter);
        }

        var settling = _http.GetAsync(Url("health/settled?timeout=30"));
        stall.Release();
        using (var answer = await download)
        {
            Assert.Equal(crate.CrateBytes, await answer.Content.ReadAsByteArrayAsync());
        }

        using (var settled = await settling)
        {
            Assert.Equal(HttpStatusCode.OK, settled.StatusCode);
        }

        // Settled means stored: the file is in storage, under its key, whole.
        var stored = Assert.Single(Directory.EnumerateFiles(Path.Combine(Root, "crates"), "*.crate", SearchOption.AllDirectories));
        Assert.Equal(crate.CrateBytes, await File.ReadAllBytesAsync(stored));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Root, ".tmp")));

        foreach (var bad in new[] { "abc", "-1", "31", "NaN" })
        {
            using var refused = await _http.GetAsync(Url($"health/settled?timeout={bad}"));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }
    }

    [Theory]
    [InlineData(FaultKind.Truncated)]
    [InlineData(FaultKind.WrongBytes)]
    [InlineData(FaultKind.HtmlErrorPage)]
    [InlineData(FaultKind.EmptyBody)]
    [InlineData(FaultKind.Reset)]
    [InlineData(FaultKind.Status500)]
    [InlineData(FaultKind.Status429)]
    [InlineData(FaultKind.Slow)]
    public async Task A_bad_upstream_transfer_is_502_stores_nothing_and_the_next_request_recovers(FaultKind fault)
    {
        // Only the Slow case needs a short upstream timeout; a loaded machine must not turn other cases into timeouts.
        var timeout = fault == FaultKind.Slow ? "00:00:02" : "00:00:30";
        await StartMirrorAsync(("Mirror__Upstreams__0__Timeout", timeout), ("Mirror__UpstreamMaxAttempts", "1"));
        var crate = Graph.Get("abcd", "2.0.1");
        var url = Url($"crates/{crate.Name}/{crate.Version}/download");
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(Url("index/ab/cd/abcd"))).StatusCode); // only the download is under test
        _upstream.AddFault(new FaultRule { PathContains = "/download", Kind = fault, Delay = TimeSpan.FromSeconds(10), RetryAfterSeconds = 1, Times = 1 });

        using (var failed = await _http.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
            Assert.False(string.IsNullOrWhiteSpace(await failed.Content.ReadAsStringAsync()));
            if (fault == FaultKind.Status429)
            {
                Assert.NotNull(failed.Headers.RetryAfter); // upstream's wait is passed on to cargo
            }
        }

        Assert.False(Directory.Exists(Path.Combine(Root, "crates")) &&
            Directory.EnumerateFiles(Path.Combine(Root, "crates"), "*", SearchOption.AllDirectories).Any());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(Root, ".tmp")));

        if (fault == FaultKind.Status429)
        {
            await WaitUntilAsync(async () => (await _http.GetAsync(url)).StatusCode == HttpStatusCode.OK, "the 429's Retry-After to pass");
        }

        var bytes = await _http.GetByteArrayAsync(url);
        Assert.Equal(crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [Theory]
    [InlineData("/index/../../../etc/passwd")]
    [InlineData("/index/%2e%2e/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("/index/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd")]
    [InlineData("/index/se/rd/ser%2Fde")]
    [InlineData("/index/se/rd/ser%5Cde")]
    [InlineData("/index/se/rd/ser%00de")]
    [InlineData("/index/xx/yy/serde")]
    [InlineData("/index/ab/cd/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz")]
    [InlineData("/index/..%2F..%2F..%2Fetc%2Fpasswd")]
    [InlineData("/crates/..%2F..%2Fetc/1.0.0/download")]
    [InlineData("/crates/abc/..%2F..%2F..%2Fx/download")]
    [InlineData("/crates/abc/1.0.0%00/download")]
    [InlineData("/crates/abc/1.0.0%2F..%2F..%2Fx/download")]
    [InlineData("/crates/abc/not-a-version/download")]
    [InlineData("/crates/abc/1.0.0\\..\\x/download")]
    [InlineData("/crates/%2e%2e/1.0.0/download")]
    [InlineData("/crates/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz/1.0.0/download")]
    [InlineData("/crates/abc/1.0.0+%2e%2e%2f%2e%2e/download")]
    public async Task Bad_input_is_refused_briefly_and_touches_nothing_outside_the_root(string target)
    {
        await StartMirrorAsync();
        var (status, body) = await RawHttp.GetAsync(_mirror.BaseUri, target, Deadline());

        Assert.True(status is 400 or 404, $"{target} answered {status}: {body}");
        Assert.True(body.Length < 200, $"{target} answered with a long body: {body}");
        Assert.Equal(["store"], Directory.EnumerateFileSystemEntries(_sandbox).Select(Path.GetFileName));
        Assert.False(Directory.Exists(Path.Combine(Root, "crates")));
        Assert.Equal(0, _upstream.TotalRequests);
    }

    [Fact]
    public async Task Health_endpoints_answer_without_upstream()
    {
        await _upstream.StopAsync();
        await StartMirrorAsync();
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(Url("health/live"))).StatusCode);
        using var ready = await _http.GetAsync(Url("health/ready"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("FileSystem", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_whose_storage_is_unreachable_says_so_and_serves_no_crate_file()
    {
        using var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // nothing listens there now
        await StartMirrorAsync(
            ("Storage__Provider", "AzureBlob"),
            ("Storage__AzureBlob__ConnectionString", $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"),
            ("Storage__AzureBlob__MaxRetries", "0"));

        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(Url("health/live"))).StatusCode);
        using var ready = await _http.GetAsync(Url("health/ready"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("AzureBlob", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var download = await _http.GetAsync(Url("crates/abc/1.1.0/download"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, download.StatusCode);
        Assert.NotNull(download.Headers.RetryAfter);
        Assert.Equal(0, _upstream.Downloads("abc", "1.1.0"));
    }

    private async Task StartMirrorAsync(params (string Key, string Value)[] settings) =>
        _mirror = await MirrorProcess.StartAsync(_upstream.IndexUrl, Root, settings.ToDictionary(s => s.Key, s => s.Value), Deadline());

    private Uri Url(string relative) => new(_mirror.BaseUri, relative);

    private async Task AssertRevalidatesAsync(string path, HttpResponseMessage first)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(path));
        request.Headers.TryAddWithoutValidation("If-None-Match", first.Headers.ETag!.ToString());
        using var revalidated = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Empty(await revalidated.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.ETag, revalidated.Headers.ETag);
    }

    /// <summary>Polls with a deadline; for waits the system under test imposes (a Retry-After), never as synchronisation.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(200);
        }
    }

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;
}
