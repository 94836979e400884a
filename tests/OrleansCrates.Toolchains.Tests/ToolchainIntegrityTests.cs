using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>
/// What the mirror lets through: signatures (an outage is never "no signature"), sidecars (small, valid, only for listed
/// archives), policy (validated at start-up, applied to archives through the manifests that list them), access with a
/// token (plain HTTP and rustup with credentials in its URL), and toolchain traffic in the statistics.
/// </summary>
public sealed class ToolchainIntegrityTests
{
    private const string Manifest = "dist/channel-rust-stable.toml";

    [Fact]
    public async Task A_failed_signature_fetch_fails_the_manifest_fetch_and_only_a_real_404_means_no_signature()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = Client(fixture);

        // The dist server fails on the .asc: the pair is not stored without it, and nothing says "not found".
        fixture.Upstream.FailWith(Manifest + ".asc", 500);
        foreach (var path in new[] { Manifest, Manifest + ".asc" })
        {
            using var failed = await http.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.NotNull(failed.Headers.RetryAfter);
        }

        Assert.DoesNotContain($"toolchains/docs/{Manifest}", fixture.StoredToolchainFiles());

        // Later it answers: the manifest and its signature are stored together.
        fixture.Upstream.Heal(Manifest + ".asc");
        Assert.Equal(fixture.Release.Files[Manifest], await http.GetByteArrayAsync(Manifest, ct));
        Assert.Equal(fixture.Release.Files[Manifest + ".asc"], await http.GetByteArrayAsync(Manifest + ".asc", ct));

        // A manifest published without a signature (a real 404): stored, and its .asc is not found.
        var unsigned = "dist/channel-rust-1.95.0.toml";
        fixture.Upstream.Remove(unsigned + ".asc");
        Assert.Equal(fixture.Release.Files[unsigned], await http.GetByteArrayAsync(unsigned, ct));
        using var none = await http.GetAsync(unsigned + ".asc", ct);
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
    }

    [Fact]
    public async Task Archive_sidecars_are_fetched_only_for_listed_archives_and_stored_only_when_small_and_valid()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = Client(fixture);
        var release = fixture.Release;
        var archive = release.Archives.First(a => a.EndsWith(".tar.xz", StringComparison.Ordinal));

        // Before any manifest lists it, the mirror does not pass the request on.
        using (var unlisted = await http.GetAsync(archive + ".sha256", ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, unlisted.StatusCode);
        }

        Assert.Equal(0, fixture.Upstream.Requests(archive + ".sha256"));

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Manifest, ct)).StatusCode);
        Assert.Equal(release.Files[archive + ".sha256"], await http.GetByteArrayAsync(archive + ".sha256", ct));
        Assert.Contains("toolchains/files/" + archive + ".sha256", fixture.StoredToolchainFiles());

        // Listed archives whose sidecars upstream got wrong: a hash the manifest does not publish, not a sha256 file,
        // not a signature, too large. Never stored, never "not found".
        var others = release.Archives.Where(a => a != archive).ToList();
        var bad = new Dictionary<string, byte[]>
        {
            [others[0] + ".sha256"] = FakeToolchain.Sha256File("other bytes"u8.ToArray(), others[0][(others[0].LastIndexOf('/') + 1)..]),
            [others[1] + ".sha256"] = "<html><body>502 Bad Gateway</body></html>"u8.ToArray(),
            [others[2] + ".asc"] = "<html>not a signature</html>"u8.ToArray(),
            [others[3] + ".asc"] = Encoding.ASCII.GetBytes("-----BEGIN PGP SIGNATURE-----\n" + new string('A', 70 * 1024) + "\n-----END PGP SIGNATURE-----\n"),
        };
        fixture.Upstream.SetAll(bad);
        foreach (var path in bad.Keys)
        {
            using var response = await http.GetAsync(path, ct);
            Assert.True((int)response.StatusCode is 502 or 503, $"{path}: expected 502 or 503, got {(int)response.StatusCode}");
            Assert.DoesNotContain("toolchains/files/" + path, fixture.StoredToolchainFiles());
        }
    }

    [Fact]
    public async Task A_tightened_policy_applies_to_archives_through_the_manifests_that_list_them()
    {
        var ct = Deadline();
        var old = FakeToolchain.Create("1.94.0", "2026-10-02", "1.94.0");
        var current = FakeToolchain.Create("1.95.0", "2026-11-20", "stable", "1.95.0");
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, release: current);
        fixture.Upstream.SetAll(old.Files.Where(f => f.Key.StartsWith("dist/", StringComparison.Ordinal)));
        using (var open = Client(fixture))
        {
            Assert.Equal(old.Files["dist/channel-rust-1.94.0.toml"], await open.GetByteArrayAsync("dist/channel-rust-1.94.0.toml", ct));
            Assert.Equal(old.Files[old.Archives[1]], await open.GetByteArrayAsync(old.Archives[1], ct));
        }

        // Only stable from now on.
        await fixture.RestartAsync(ct, new Dictionary<string, string> { ["Toolchains__AllowedChannels__0"] = "stable" });
        using var http = Client(fixture);
        foreach (var path in new[] { "dist/channel-rust-1.94.0.toml", old.Archives[1], old.Archives[3], old.Archives[3] + ".sha256" })
        {
            using var refused = await http.GetAsync(path, ct);
            Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{path}: expected 403, got {(int)refused.StatusCode}");
        }

        Assert.Equal((0, 0), (fixture.Upstream.Requests(old.Archives[3]), fixture.Upstream.Requests(old.Archives[3] + ".sha256")));

        // stable, its archives and the mirror's own dated copy of it are served; another dated stable is not asked for.
        Assert.Equal(current.Files[Manifest], await http.GetByteArrayAsync(Manifest, ct));
        Assert.Equal(current.Files[current.Archives[1]], await http.GetByteArrayAsync(current.Archives[1], ct));
        var kept = $"dist/{current.Date}/channel-rust-stable.toml";
        Assert.Equal(current.Files[kept], await http.GetByteArrayAsync(kept, ct));
        using (var otherDay = await http.GetAsync("dist/2026-12-24/channel-rust-stable.toml", ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, otherDay.StatusCode);
        }

        Assert.Equal((0, 0), (fixture.Upstream.Requests(kept), fixture.Upstream.Requests("dist/2026-12-24/channel-rust-stable.toml")));
    }

    [Fact]
    public async Task A_policy_pattern_that_is_not_valid_stops_the_start_with_its_name()
    {
        var ct = Deadline();
        var sandbox = Directory.CreateTempSubdirectory("oc-tc-policy-").FullName;
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => MirrorProcess.StartAsync(
                "http://127.0.0.1:9/index/",
                Path.Combine(sandbox, "store"),
                new Dictionary<string, string> { ["Toolchains__AllowedChannels__0"] = "stable", ["Toolchains__AllowedChannels__1"] = "nightly 2026-*" },
                ct));
            Assert.Contains("Toolchains:AllowedChannels:1 'nightly 2026-*'", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(sandbox, recursive: true);
        }
    }

    [Fact]
    public async Task With_ReadRequiresToken_basic_credentials_are_accepted_over_http_and_from_rustups_dist_server_url()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, new Dictionary<string, string> { ["Toolchains__ReadRequiresToken"] = "true" });
        var token = await ServerCli.CreateTokenAsync(fixture.StorageRoot, "build-server", "read", cancellationToken: ct);

        using var http = Client(fixture);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("token:" + token)));
        Assert.Equal(fixture.Release.Files[Manifest], await http.GetByteArrayAsync(Manifest, ct));
        using var wrong = Client(fixture);
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("token:not-a-token"u8.ToArray()));
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync(Manifest, ct)).StatusCode);

        // rustup (reqwest) sends the URL's user info as Basic credentials, and keeps it on every path under the dist server.
        var withCredentials = new UriBuilder(fixture.DistServer) { UserName = "token", Password = Uri.EscapeDataString(token) }.Uri.ToString().TrimEnd('/');
        using var home = new RustupHome(withCredentials);
        await home.InstallAsync("stable", ct);
        Assert.Equal(fixture.Release.RustcVersionLine, await home.RustcVersionAsync("stable", ct));
    }

    [Fact]
    public async Task Statistics_show_toolchain_downloads_apart_from_the_crates()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, new Dictionary<string, string> { ["Statistics__FlushInterval"] = "00:00:01" });
        using var http = Client(fixture);
        var archive = fixture.Release.Archives.First(a => a.EndsWith(".tar.xz", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Manifest, ct)).StatusCode);
        Assert.Equal(fixture.Release.Files[archive], await http.GetByteArrayAsync(archive, ct));

        // Counters are flushed every second; wait (bounded) until the merged view has the download.
        using var stats = new HttpClient { BaseAddress = fixture.Mirror.BaseUri };
        var deadline = Stopwatch.StartNew();
        JsonElement root;
        do
        {
            using var doc = JsonDocument.Parse(await stats.GetStringAsync("api/v1/stats?days=1", ct));
            root = doc.RootElement.Clone();
            if (root.GetProperty("toolchains").GetProperty("downloads").GetInt64() > 0 || deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                break;
            }

            await Task.Delay(200, ct);
        }
        while (true);

        var toolchains = root.GetProperty("toolchains");
        Assert.True(toolchains.GetProperty("downloads").GetInt64() == 1, $"expected 1 toolchain download within 30 s: {root}");
        Assert.Equal(fixture.Release.Files[archive].Length, toolchains.GetProperty("bytes").GetInt64());
        var top = Assert.Single(toolchains.GetProperty("topArchives").EnumerateArray());
        Assert.Equal(archive[(archive.LastIndexOf('/') + 1)..], top.GetProperty("archive").GetString());
        Assert.Equal(fixture.Release.Date, top.GetProperty("release").GetString());
        Assert.Empty(root.GetProperty("topCrates").EnumerateArray());
        Assert.True(root.GetProperty("totals").GetProperty("requests").GetInt64() >= 2);
    }

    private static HttpClient Client(ToolchainMirrorFixture fixture) => new() { BaseAddress = new Uri(fixture.DistServer + "/") };

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;
}
