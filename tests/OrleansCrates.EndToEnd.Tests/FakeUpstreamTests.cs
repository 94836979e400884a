using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Proves the test-support library: cargo uses the fake upstream directly as a sparse registry, and the fake's
/// faults, conditional requests and stop/restart behave as documented.
/// </summary>
public sealed class FakeUpstreamTests(FakeUpstreamTests.CargoAgainstFakeUpstream cargo) : IClassFixture<FakeUpstreamTests.CargoAgainstFakeUpstream>
{
    private static readonly TimeSpan HttpTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void Cargo_resolves_fetches_and_builds_offline_against_the_fake_upstream()
    {
        Assert.True(cargo.GenerateLockfile.Succeeded, cargo.GenerateLockfile.ToString());
        Assert.True(cargo.Fetch.Succeeded, cargo.Fetch.ToString());
        Assert.True(cargo.Build.Succeeded, cargo.Build.ToString());
        Assert.True(cargo.Run.Succeeded, cargo.Run.ToString());
    }

    [Fact]
    public void Lockfile_checksums_equal_the_graph_and_the_expected_resolution()
    {
        var checksums = cargo.Checksums;
        foreach (var ((name, version), checksum) in checksums)
        {
            Assert.Equal(cargo.Graph.Get(name, version).Sha256, checksum);
        }

        var expected = cargo.Graph.ExpectedLockedCrates.Select(c => (c.Name, c.Version)).Order().ToList();
        Assert.Equal(expected, checksums.Keys.Order().ToList());
        Assert.All(
            cargo.Packages.Where(p => p.Name != "consumer"),
            p => Assert.Equal("registry+https://github.com/rust-lang/crates.io-index", p.Source));
    }

    [Fact]
    public void Newest_matching_versions_win_and_the_yanked_one_is_avoided()
    {
        var locked = cargo.Checksums.Keys.ToHashSet();
        Assert.True(cargo.Graph.Get("abc", "1.2.0").Yanked);
        Assert.DoesNotContain(("abc", "1.2.0"), locked);
        Assert.Contains(("abc", "1.1.0"), locked);
        Assert.Contains(("a", "1.1.0"), locked);
        Assert.Contains(("ab", "0.1.1"), locked);
        Assert.Contains(("ab", "0.2.0"), locked);
        Assert.Equal(0, cargo.Upstream.Downloads("abc", "1.2.0"));
        Assert.Contains("abc 1.1.0", cargo.Run.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_metadata_mixed_case_renamed_and_feature_enabled_crates_resolve()
    {
        var locked = cargo.Checksums.Keys.ToHashSet();
        Assert.Contains(("build-meta", "1.2.0+build.7"), locked);
        Assert.Contains(("MixedCase", "1.1.0"), locked);
        Assert.Contains(("real-name", "1.3.0"), locked);
        Assert.Contains(("opt-helper", "1.0.2"), locked);
        Assert.Contains(("a-very-long-crate-name-for-index-prefixes", "0.1.0"), locked);
        Assert.Equal(1, cargo.Upstream.Downloads("build-meta", "1.2.0+build.7"));
        Assert.Equal(1, cargo.Upstream.Downloads("MixedCase", "1.1.0"));
        Assert.Contains("build-meta 1.2.0+build.7", cargo.Run.StdOut, StringComparison.Ordinal);
        Assert.Contains("MixedCase 1.1.0", cargo.Run.StdOut, StringComparison.Ordinal);

        // Cargo asks for the lowercase index path of a mixed-case name and keeps the name's case in the dl URL.
        Assert.True(cargo.Upstream.IndexRequests("MixedCase") >= 1);
        var requests = cargo.Upstream.Requests;
        Assert.Contains(requests, r => r.Path == "/index/mi/xe/mixedcase" && r.Status == 200);
        Assert.Contains(requests, r => r.Path == "/crates/build-meta/1.2.0+build.7/download" && r.Status == 200);
        Assert.All(requests, r => Assert.StartsWith("cargo/", r.UserAgent ?? string.Empty, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{base}/dl/{lowerprefix}/{crate}/{sha256-checksum}/{version}")]
    [InlineData("{base}/dl/{prefix}/{crate}-{version}.crate")]
    [InlineData("{base}/api/v1/crates")]
    public async Task Cargo_fetches_through_any_dl_template(string template)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var graph = CrateGraph.CreateDefault();
        await using var upstream = await FakeUpstream.StartAsync(graph, new FakeUpstreamOptions { DlTemplate = template }, cts.Token);
        using var project = CargoProject.Create(upstream.IndexUrl, graph);

        var fetch = await project.RunAsync(["fetch"], cancellationToken: cts.Token);

        Assert.True(fetch.Succeeded, fetch.ToString());
        foreach (var crate in graph.ExpectedLockedCrates)
        {
            Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version));
        }

        Assert.DoesNotContain(upstream.Requests, r => r.Status == 404 && !r.Path.StartsWith("/index/", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Cargo_revalidates_index_files_and_sees_a_publish(bool etags, bool lastModified)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var graph = CrateGraph.CreateDefault();
        await using var upstream = await FakeUpstream.StartAsync(
            graph,
            new FakeUpstreamOptions { SendETags = etags, SendLastModified = lastModified },
            cts.Token);
        using var project = CargoProject.Create(upstream.IndexUrl, graph);
        var first = await project.RunAsync(["generate-lockfile"], cancellationToken: cts.Token);
        Assert.True(first.Succeeded, first.ToString());

        // Publish a.1.2.0, then let cargo revalidate everything it has cached.
        upstream.Graph = graph.With(CrateGraph.BuildCrate("a", "1.2.0"));
        var seen = upstream.Requests.Count;
        var update = await project.RunAsync(["update"], cancellationToken: cts.Token);

        Assert.True(update.Succeeded, update.ToString());
        Assert.Contains(("a", "1.2.0"), project.LockfileChecksums().Keys);
        var revalidations = upstream.Requests.Skip(seen).Where(r => r.Path != "/index/config.json").ToList();
        Assert.NotEmpty(revalidations);
        Assert.All(revalidations, r => Assert.Equal(etags, r.IfNoneMatch is not null));
        Assert.All(revalidations, r => Assert.Equal(!etags, r.IfModifiedSince is not null));
        Assert.Equal(200, Assert.Single(revalidations, r => r.Path == "/index/1/a").Status);
        Assert.All(revalidations.Where(r => r.Path != "/index/1/a"), r => Assert.Equal(304, r.Status));
    }

    [Fact]
    public async Task Cargo_rejects_wrong_bytes_and_a_stalled_run_can_be_killed()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var graph = CrateGraph.CreateDefault();
        await using var upstream = await FakeUpstream.StartAsync(graph, cancellationToken: cts.Token);
        using var project = CargoProject.Create(upstream.IndexUrl, graph);

        upstream.AddFault(new FaultRule { PathContains = "/crates/abcd/", Kind = FaultKind.WrongBytes, Times = 1 });
        var corrupt = await project.RunAsync(["fetch"], cancellationToken: cts.Token);
        Assert.False(corrupt.Succeeded, corrupt.ToString());
        Assert.Contains("failed to verify the checksum of `abcd v2.0.1", corrupt.StdErr, StringComparison.Ordinal);

        var stall = upstream.AddFault(new FaultRule { PathContains = "/crates/abcd/", Kind = FaultKind.Stall });
        using var cancelRun = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        var stalledRun = project.RunAsync(["fetch"], cancellationToken: cancelRun.Token);
        await stall.Stalled.WaitAsync(cts.Token);
        await cancelRun.CancelAsync();
        var killed = await stalledRun;

        Assert.Equal(-1, killed.ExitCode);
        Assert.StartsWith("cancelled", killed.KilledReason, StringComparison.Ordinal);
        Assert.Equal(2, upstream.Downloads("abcd", "2.0.1"));
    }

    [Fact]
    public void Synthetic_crates_are_deterministic_real_tarballs()
    {
        var a = CrateGraph.BuildCrate("MixedCase", "1.0.0+build.5", [new CrateDependency("ab", "^0.2")]);
        var b = CrateGraph.BuildCrate("MixedCase", "1.0.0+build.5", [new CrateDependency("ab", "^0.2")]);
        Assert.Equal(a.CrateBytes, b.CrateBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(a.CrateBytes)), a.Sha256);

        var entries = new Dictionary<string, string>();
        using (var gzip = new GZipStream(new MemoryStream(a.CrateBytes), CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
        {
            while (tar.GetNextEntry() is { } entry)
            {
                using var reader = new StreamReader(entry.DataStream!);
                entries[entry.Name] = reader.ReadToEnd();
            }
        }

        Assert.Equal(["MixedCase-1.0.0+build.5/Cargo.toml", "MixedCase-1.0.0+build.5/src/lib.rs"], entries.Keys.Order());
        Assert.Contains("name = \"MixedCase\"", entries["MixedCase-1.0.0+build.5/Cargo.toml"], StringComparison.Ordinal);
        Assert.Contains("version = \"1.0.0+build.5\"", entries["MixedCase-1.0.0+build.5/Cargo.toml"], StringComparison.Ordinal);
        Assert.Contains("edition = \"2021\"", entries["MixedCase-1.0.0+build.5/Cargo.toml"], StringComparison.Ordinal);

        var line = Encoding.UTF8.GetString(a.IndexLine);
        Assert.StartsWith("{\"name\":\"MixedCase\",\"vers\":\"1.0.0+build.5\",\"deps\":[{\"name\":\"ab\",\"req\":\"^0.2\"", line, StringComparison.Ordinal);
        Assert.Contains($"\"cksum\":\"{a.Sha256}\"", line, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", line, StringComparison.Ordinal);

        var padded = CrateGraph.BuildCrate("padded", "0.1.0", paddingBytes: 200_000);
        Assert.InRange(padded.CrateBytes.Length, 200_000, 210_000);
    }

    [Fact]
    public async Task Index_paths_follow_cargo_rules_and_are_case_sensitive()
    {
        using var cts = new CancellationTokenSource(HttpTimeout);
        var graph = CrateGraph.CreateDefault();
        await using var upstream = await FakeUpstream.StartAsync(graph, cancellationToken: cts.Token);
        using var http = new HttpClient();

        var config = await http.GetStringAsync(new Uri(upstream.IndexUrl + "config.json"), cts.Token);
        Assert.Equal($"{{\"dl\":\"{upstream.BaseUri.ToString().TrimEnd('/')}/crates/{{crate}}/{{version}}/download\"}}", config);

        foreach (var (path, name) in new[] { ("1/a", "a"), ("2/ab", "ab"), ("3/a/abc", "abc"), ("ab/cd/abcd", "abcd"), ("mi/xe/mixedcase", "MixedCase") })
        {
            using var response = await http.GetAsync(new Uri(upstream.IndexUrl + path), cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(graph.IndexFileFor(name), await response.Content.ReadAsByteArrayAsync(cts.Token));
        }

        using (var upper = await http.GetAsync(new Uri(upstream.IndexUrl + "Mi/xe/MixedCase"), cts.Token))
        {
            Assert.Equal(HttpStatusCode.NotFound, upper.StatusCode);
        }

        using (var unknown = await http.GetAsync(new Uri(upstream.IndexUrl + "no/ne/nonexistent"), cts.Token))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        Assert.Equal(2, upstream.IndexRequests("mixedCASE"));

        // '+' in a version is accepted raw and percent-encoded.
        var crate = graph.Get("build-meta", "1.2.0+build.7");
        foreach (var url in new[] { "crates/build-meta/1.2.0+build.7/download", "crates/build-meta/1.2.0%2Bbuild.7/download" })
        {
            using var response = await http.GetAsync(new Uri(upstream.BaseUri, url), cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(crate.CrateBytes.Length, response.Content.Headers.ContentLength);
            Assert.Empty(response.Content.Headers.ContentEncoding);
            Assert.Equal(crate.CrateBytes, await response.Content.ReadAsByteArrayAsync(cts.Token));
        }

        Assert.Equal(2, upstream.Downloads("build-meta", "1.2.0+build.7"));
        Assert.Equal(10, upstream.TotalRequests);
        Assert.Equal(10, upstream.Requests.Count);
    }

    [Fact]
    public async Task Status_faults_apply_the_given_number_of_times()
    {
        using var cts = new CancellationTokenSource(HttpTimeout);
        await using var upstream = await FakeUpstream.StartAsync(CrateGraph.CreateDefault(), cancellationToken: cts.Token);
        using var http = new HttpClient();
        var url = new Uri(upstream.IndexUrl + "3/a/abc");
        var fault500 = upstream.AddFault(new FaultRule { PathContains = "/abc", Kind = FaultKind.Status500, Times = 1 });

        using (var first = await http.GetAsync(url, cts.Token))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        }

        using (var second = await http.GetAsync(url, cts.Token))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        }

        Assert.Equal(1, fault500.Hits);

        upstream.AddFault(new FaultRule { PathContains = "/abc", Kind = FaultKind.Status429, RetryAfterSeconds = 7, Times = 1 });
        using (var limited = await http.GetAsync(url, cts.Token))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), limited.Headers.RetryAfter?.Delta);
        }

        upstream.AddFault(new FaultRule { PathContains = "/abc", Kind = FaultKind.HtmlErrorPage, Times = 1 });
        using (var html = await http.GetAsync(url, cts.Token))
        {
            Assert.Equal(HttpStatusCode.OK, html.StatusCode);
            Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);
        }

        upstream.AddFault(new FaultRule { PathContains = "/abc", Kind = FaultKind.EmptyBody, Times = 1 });
        using (var empty = await http.GetAsync(url, cts.Token))
        {
            Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
            Assert.Empty(await empty.Content.ReadAsByteArrayAsync(cts.Token));
        }

        Assert.Equal([500, 200, 429, 200, 200], upstream.Requests.Select(r => r.Status));
        Assert.Equal(5, upstream.IndexRequests("abc"));
    }

    [Fact]
    public async Task Body_faults_truncate_corrupt_reset_and_stall()
    {
        using var cts = new CancellationTokenSource(HttpTimeout);
        var graph = CrateGraph.CreateDefault();
        var crate = graph.Get("abcd", "2.0.1");
        await using var upstream = await FakeUpstream.StartAsync(graph, cancellationToken: cts.Token);
        var url = upstream.DownloadUrl(crate);
        using var http = new HttpClient();

        upstream.AddFault(new FaultRule { PathContains = "/abcd/", Kind = FaultKind.Truncated, Times = 1 });
        var truncated = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetByteArrayAsync(url, cts.Token));
        Assert.IsAssignableFrom<IOException>(truncated.InnerException);

        upstream.AddFault(new FaultRule { PathContains = "/abcd/", Kind = FaultKind.WrongBytes, Times = 1 });
        var wrong = await http.GetByteArrayAsync(url, cts.Token);
        Assert.Equal(crate.CrateBytes.Length, wrong.Length);
        Assert.NotEqual(crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(wrong)));

        upstream.AddFault(new FaultRule { PathContains = "/abcd/", Kind = FaultKind.Reset, Times = 1 });
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetByteArrayAsync(url, cts.Token));

        var stall = upstream.AddFault(new FaultRule { PathContains = "/abcd/", Kind = FaultKind.Stall, Times = 1 });
        using var stalledResponse = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        await stall.Stalled.WaitAsync(cts.Token);
        var bodyTask = stalledResponse.Content.ReadAsByteArrayAsync(cts.Token);
        Assert.False(bodyTask.IsCompleted);
        stall.Release();
        Assert.Equal(crate.CrateBytes, await bodyTask);

        Assert.Equal(crate.CrateBytes, await http.GetByteArrayAsync(url, cts.Token));
        Assert.Equal(5, upstream.Downloads("abcd", "2.0.1"));
        Assert.Equal([200, 200, 0, 200, 200], upstream.Requests.Select(r => r.Status));
    }

    [Fact]
    public async Task Slow_fault_delays_the_response()
    {
        using var cts = new CancellationTokenSource(HttpTimeout);
        await using var upstream = await FakeUpstream.StartAsync(CrateGraph.CreateDefault(), cancellationToken: cts.Token);
        using var http = new HttpClient();
        upstream.AddFault(new FaultRule { PathContains = "/1/a", Kind = FaultKind.Slow, Delay = TimeSpan.FromMilliseconds(300) });

        var watch = Stopwatch.StartNew();
        using var response = await http.GetAsync(new Uri(upstream.IndexUrl + "1/a"), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(250), $"expected a delay of ~300 ms, got {watch.Elapsed}");
    }

    [Fact]
    public async Task ETags_and_Last_Modified_follow_content()
    {
        using var cts = new CancellationTokenSource(HttpTimeout);
        var graph = CrateGraph.CreateDefault();
        await using var upstream = await FakeUpstream.StartAsync(
            graph,
            new FakeUpstreamOptions { SendETags = true, SendLastModified = true },
            cts.Token);
        using var http = new HttpClient();
        var url = new Uri(upstream.IndexUrl + "3/a/abc");

        string etag;
        DateTimeOffset lastModified;
        using (var first = await http.GetAsync(url, cts.Token))
        {
            etag = first.Headers.ETag!.ToString();
            lastModified = first.Content.Headers.LastModified!.Value;
            Assert.False(first.Headers.ETag.IsWeak);
        }

        using (var notModified = await SendAsync(http, url, etag, null, cts.Token))
        {
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.Equal(etag, notModified.Headers.ETag?.ToString());
        }

        using (var notModifiedSince = await SendAsync(http, url, null, lastModified, cts.Token))
        {
            Assert.Equal(HttpStatusCode.NotModified, notModifiedSince.StatusCode);
        }

        // A yank flip changes the file, so the old validators no longer match.
        upstream.Graph = graph.WithYanked("abc", "1.2.0", false);
        using (var changed = await SendAsync(http, url, etag, null, cts.Token))
        {
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
            Assert.NotEqual(etag, changed.Headers.ETag?.ToString());
            Assert.Contains("\"vers\":\"1.2.0\"", await changed.Content.ReadAsStringAsync(cts.Token), StringComparison.Ordinal);
        }

        using (var changedSince = await SendAsync(http, url, null, lastModified, cts.Token))
        {
            Assert.Equal(HttpStatusCode.OK, changedSince.StatusCode);
            Assert.True(changedSince.Content.Headers.LastModified > lastModified);
        }

        Assert.Equal(etag, upstream.Requests[1].IfNoneMatch);

        // A stalled 304 has no body to cut short, so it holds back its headers until released.
        string currentETag;
        using (var current = await http.GetAsync(url, cts.Token))
        {
            currentETag = current.Headers.ETag!.ToString();
        }

        var stall = upstream.AddFault(new FaultRule { PathContains = "/3/a/abc", Kind = FaultKind.Stall, Times = 1 });
        var pending = SendAsync(http, url, currentETag, null, cts.Token);
        await stall.Stalled.WaitAsync(cts.Token);
        Assert.False(pending.IsCompleted);
        stall.Release();
        using (var released = await pending)
        {
            Assert.Equal(HttpStatusCode.NotModified, released.StatusCode);
        }
    }

    [Fact]
    public async Task Stop_refuses_connections_and_restart_serves_on_the_same_port()
    {
        using var cts = new CancellationTokenSource(HttpTimeout);
        await using var upstream = await FakeUpstream.StartAsync(CrateGraph.CreateDefault(), cancellationToken: cts.Token);
        var url = new Uri(upstream.IndexUrl + "config.json");
        var port = upstream.BaseUri.Port;

        await upstream.StopAsync(cts.Token);
        using (var http = new HttpClient())
        {
            var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(url, cts.Token));
            Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(error.InnerException).SocketErrorCode);
        }

        await upstream.RestartAsync(cts.Token);
        Assert.Equal(port, upstream.BaseUri.Port);
        using (var http = new HttpClient())
        {
            using var response = await http.GetAsync(url, cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(
        HttpClient http,
        Uri url,
        string? ifNoneMatch,
        DateTimeOffset? ifModifiedSince,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        request.Headers.IfModifiedSince = ifModifiedSince;
        return await http.SendAsync(request, cancellationToken);
    }

    /// <summary>One fake upstream and one consumer project, resolved, fetched, built and run once per class.</summary>
    public sealed class CargoAgainstFakeUpstream : IAsyncLifetime
    {
        private CargoProject? _project;

        public CrateGraph Graph { get; } = CrateGraph.CreateDefault();

        public FakeUpstream Upstream { get; private set; } = null!;

        public CargoResult GenerateLockfile { get; private set; } = null!;

        public CargoResult Fetch { get; private set; } = null!;

        public CargoResult Build { get; private set; } = null!;

        public CargoResult Run { get; private set; } = null!;

        public IReadOnlyDictionary<(string Name, string Version), string> Checksums { get; private set; } = null!;

        public IReadOnlyList<LockedPackage> Packages { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            Upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: cts.Token);
            _project = CargoProject.Create(Upstream.IndexUrl, Graph);
            GenerateLockfile = await _project.RunAsync(["generate-lockfile"], cancellationToken: cts.Token);
            Fetch = await _project.RunAsync(["fetch"], cancellationToken: cts.Token);
            Build = await _project.RunAsync(["build", "--offline"], cancellationToken: cts.Token);
            Run = await _project.RunAsync(["run", "--offline", "--quiet"], cancellationToken: cts.Token);
            Checksums = File.Exists(_project.LockfilePath) ? _project.LockfileChecksums() : new Dictionary<(string, string), string>();
            Packages = File.Exists(_project.LockfilePath) ? _project.LockfilePackages() : [];
        }

        public async Task DisposeAsync()
        {
            _project?.Dispose();
            if (Upstream is not null)
            {
                await Upstream.DisposeAsync();
            }
        }
    }
}
