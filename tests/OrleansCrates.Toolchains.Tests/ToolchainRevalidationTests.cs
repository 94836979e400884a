using System.Diagnostics;
using System.Net;
using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>
/// Moving manifests over time: picked up after the TTL, every generation kept under its date (so what it listed stays
/// fetchable and verifiable), dated files never changing, a consistent pair for each client, and the held copy served
/// at once while upstream is stopped or blackholed.
/// </summary>
public sealed class ToolchainRevalidationTests
{
    private const string Manifest = "dist/channel-rust-stable.toml";

    /// <summary>Every request past the TTL revalidates, and waits for it: the tests see upstream's answer deterministically.</summary>
    private static readonly Dictionary<string, string> RevalidateEveryTime = new()
    {
        ["Toolchains__ManifestTtl"] = "00:00:00",
        ["Toolchains__RevalidationWait"] = "00:01:00",
    };

    [Fact]
    public async Task A_moved_channel_is_picked_up_after_the_ttl_and_what_it_listed_before_stays_fetchable_and_verifiable()
    {
        var ct = Deadline();
        var first = FakeToolchain.Create("1.95.0", "2026-11-20", "stable", "1.95", "1.95.0");
        var next = FakeToolchain.Create("1.95.1", "2026-12-11", "stable", "1.95", "1.95.1");
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, RevalidateEveryTime, first);
        using var http = Client(fixture);
        foreach (var channel in new[] { "stable", "1.95" })
        {
            Assert.Equal(first.Files[$"dist/channel-rust-{channel}.toml"], await http.GetByteArrayAsync($"dist/channel-rust-{channel}.toml", ct));
        }

        // Upstream moves stable and 1.95 to the point release: past the TTL, the mirror serves the new pair.
        fixture.Upstream.SetAll(next.Files);
        foreach (var channel in new[] { "stable", "1.95" })
        {
            var path = $"dist/channel-rust-{channel}.toml";
            Assert.Equal(next.Files[path + ".sha256"], await http.GetByteArrayAsync(path + ".sha256", ct));
            Assert.Equal(next.Files[path], await http.GetByteArrayAsync(path, ct));
            Assert.Equal(next.Files[path + ".asc"], await http.GetByteArrayAsync(path + ".asc", ct));
        }

        // Each generation is kept under its date, where upstream publishes the same bytes.
        var stored = fixture.StoredToolchainFiles();
        foreach (var release in new[] { first, next })
        {
            Assert.Contains($"toolchains/docs/dist/{release.Date}/channel-rust-stable.toml", stored);
            Assert.Contains($"toolchains/docs/dist/{release.Date}/channel-rust-1.95.toml", stored);
            Assert.Equal(release.Files[$"dist/{release.Date}/channel-rust-stable.toml"], await http.GetByteArrayAsync($"dist/{release.Date}/channel-rust-stable.toml", ct));
        }

        // A restarted node (nothing in memory) fetches an archive only the earlier stable listed.
        await fixture.RestartAsync(ct);
        using var restarted = Client(fixture);
        var earlier = first.Archives.First(a => a.EndsWith(".tar.xz", StringComparison.Ordinal));
        Assert.Equal(first.Files[earlier], await restarted.GetByteArrayAsync(earlier, ct));
        var current = next.Archives.First(a => a.EndsWith(".tar.xz", StringComparison.Ordinal));
        Assert.Equal(next.Files[current], await restarted.GetByteArrayAsync(current, ct));

        // And verify finds nothing wrong with the healthy mirror.
        var verify = await ServerCli.RunAsync(fixture.CliEnvironment, ["verify"], ct);
        Assert.True(verify.ExitCode == 0, verify.StdOut + verify.StdErr);
        Assert.Contains("verify toolchains: OK", verify.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dated_files_never_change_once_stored_even_when_upstream_changes_them()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, RevalidateEveryTime);
        using var http = Client(fixture);
        var release = fixture.Release;
        var dated = $"dist/{release.Date}/channel-rust-1.95.0.toml";
        var archive = release.Archives.First(a => a.EndsWith(".tar.xz", StringComparison.Ordinal));
        Assert.Equal(release.Files[dated], await http.GetByteArrayAsync(dated, ct));
        Assert.Equal(release.Files[archive], await http.GetByteArrayAsync(archive, ct));

        // Upstream republishes both under the same date (a re-spin): the mirror keeps what it verified.
        var respin = FakeToolchain.Create("1.95.0", release.Date, "1.95.0", "stable").Files[dated];
        respin = [.. respin, .. "# re-spun\n"u8.ToArray()];
        fixture.Upstream.Set(dated, respin);
        fixture.Upstream.Set(dated + ".sha256", FakeToolchain.Sha256File(respin, "channel-rust-1.95.0.toml"));
        fixture.Upstream.Set(archive, [.. release.Files[archive], 0]);

        Assert.Equal(release.Files[dated], await http.GetByteArrayAsync(dated, ct));
        Assert.Equal(release.Files[dated + ".sha256"], await http.GetByteArrayAsync(dated + ".sha256", ct));
        Assert.Equal(release.Files[archive], await http.GetByteArrayAsync(archive, ct));
        Assert.Equal((1, 1, 1), (fixture.Upstream.Requests(dated), fixture.Upstream.Requests(dated + ".sha256"), fixture.Upstream.Requests(archive)));
    }

    [Fact]
    public async Task Past_the_ttl_with_the_upstream_stopped_the_held_copy_is_served_at_once_with_its_age()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, new Dictionary<string, string> { ["Toolchains__ManifestTtl"] = "00:00:00" });
        using var http = Client(fixture);
        Assert.Equal(fixture.Release.Files[Manifest], await http.GetByteArrayAsync(Manifest, ct));

        await fixture.Upstream.StopAsync();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            foreach (var path in new[] { Manifest + ".sha256", Manifest })
            {
                using var response = await http.GetAsync(path, ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(fixture.Release.Files[path], await response.Content.ReadAsByteArrayAsync(ct));
                Assert.NotNull(response.Headers.Age);
                Assert.Contains(response.Headers.Warning, w => w.Code == 110);
            }
        }

        // Six requests; the failed revalidation is remembered, so at most the first waited (Toolchains:RevalidationWait, 2 s).
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"six stale answers took {watch.Elapsed}");
    }

    [Fact]
    public async Task Past_the_ttl_with_a_blackholed_upstream_rustup_installs_from_the_held_copy_and_upstream_is_asked_once()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using (var warm = new RustupHome(fixture.DistServer))
        {
            await warm.InstallAsync("stable", ct);
        }

        // The dist server now accepts connections and never answers (its own timeout: 2 minutes per attempt).
        await using var silent = new SilentListener();
        await fixture.RestartAsync(ct, new Dictionary<string, string>
        {
            ["Toolchains__Upstreams__0__Url"] = silent.Url,
            ["Toolchains__Upstreams__0__Timeout"] = "00:02:00",
            ["Toolchains__ManifestTtl"] = "00:00:00",
        });
        using var http = Client(fixture);
        var watch = Stopwatch.StartNew();
        using (var first = await http.GetAsync(Manifest + ".sha256", ct))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(fixture.Release.Files[Manifest + ".sha256"], await first.Content.ReadAsByteArrayAsync(ct));
            Assert.NotNull(first.Headers.Age);
            Assert.Contains(first.Headers.Warning, w => w.Code == 110);
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the stale answer took {watch.Elapsed} (the upstream timeout is 2 minutes)");
        await silent.FirstAccepted.WaitAsync(TimeSpan.FromSeconds(60), ct);

        // While that revalidation hangs, a fresh machine installs from the held copies, and nobody else asks upstream.
        using var offline = new RustupHome(fixture.DistServer);
        await offline.InstallAsync("stable", ct);
        Assert.Equal(fixture.Release.RustcVersionLine, await offline.RustcVersionAsync("stable", ct));
        Assert.Equal(1, silent.Accepted);
    }

    [Fact]
    public async Task A_manifest_that_changes_between_its_sha256_and_its_body_is_fetched_again_as_a_pair()
    {
        var ct = Deadline();
        var next = FakeToolchain.Create("1.95.1", "2026-12-11", "stable", "1.95.1");
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = Client(fixture);

        // Upstream publishes the next release after the mirror read the .sha256 and before it reads the manifest.
        fixture.Upstream.BeforeServing(Manifest, () => fixture.Upstream.SetAll(next.Files));
        Assert.Equal(next.Files[Manifest], await http.GetByteArrayAsync(Manifest, ct));
        Assert.Equal(next.Files[Manifest + ".sha256"], await http.GetByteArrayAsync(Manifest + ".sha256", ct));
        Assert.Equal(next.Files[Manifest + ".asc"], await http.GetByteArrayAsync(Manifest + ".asc", ct));
        Assert.Equal((2, 2), (fixture.Upstream.Requests(Manifest + ".sha256"), fixture.Upstream.Requests(Manifest)));
    }

    [Fact]
    public async Task A_client_gets_the_manifest_of_the_generation_its_sha256_named_even_if_the_channel_moved_in_between()
    {
        var ct = Deadline();
        var next = FakeToolchain.Create("1.95.1", "2026-12-11", "stable", "1.95.1");
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, RevalidateEveryTime);
        using var a = Client(fixture, "rustup/1.29.0 (machine a)");
        using var b = Client(fixture, "rustup/1.29.0 (machine b)");
        var first = fixture.Release;

        Assert.Equal(first.Files[Manifest + ".sha256"], await a.GetByteArrayAsync(Manifest + ".sha256", ct));
        fixture.Upstream.SetAll(next.Files); // stable moves between a's .sha256 and its manifest request
        Assert.Equal(first.Files[Manifest], await a.GetByteArrayAsync(Manifest, ct));
        Assert.Equal(first.Files[Manifest + ".asc"], await a.GetByteArrayAsync(Manifest + ".asc", ct));

        // The mirror did take the new generation: another client gets it, and so does a on its next round.
        Assert.Equal(next.Files[Manifest], await b.GetByteArrayAsync(Manifest, ct));
        Assert.Equal(next.Files[Manifest + ".sha256"], await a.GetByteArrayAsync(Manifest + ".sha256", ct));
        Assert.Equal(next.Files[Manifest], await a.GetByteArrayAsync(Manifest, ct));
    }

    private static HttpClient Client(ToolchainMirrorFixture fixture, string? userAgent = null)
    {
        var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        if (userAgent is not null)
        {
            http.DefaultRequestHeaders.UserAgent.ParseAdd(userAgent);
        }

        return http;
    }

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;
}
