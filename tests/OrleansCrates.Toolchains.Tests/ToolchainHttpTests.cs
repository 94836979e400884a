using System.Net;
using System.Text;
using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>The toolchain mirror over plain HTTP: verification, offline answers, rustup's update root, policy, streaming.</summary>
public sealed class ToolchainHttpTests
{
    private static readonly string Manifest = "dist/channel-rust-stable.toml";

    [Fact]
    public async Task Manifests_pass_through_byte_for_byte_with_their_sha256_and_signature()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        foreach (var path in new[] { Manifest, Manifest + ".sha256", Manifest + ".asc", $"dist/{fixture.Release.Date}/channel-rust-stable.toml" })
        {
            Assert.Equal(fixture.Release.Files[path], await http.GetByteArrayAsync(path, ct));
        }

        // One revalidation per TTL: the pair was fetched once, whatever was asked.
        Assert.Equal(1, fixture.Upstream.Requests(Manifest));
        Assert.Equal(1, fixture.Upstream.Requests(Manifest + ".sha256"));
    }

    [Fact]
    public async Task A_manifest_whose_sha256_does_not_match_is_not_stored()
    {
        var ct = Deadline();
        var release = FakeToolchain.Create();
        release.Files[Manifest + ".sha256"] = FakeToolchain.Sha256File(Encoding.UTF8.GetBytes("something else"), "channel-rust-stable.toml");
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, release: release);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };

        using var response = await http.GetAsync(Manifest, ct);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.DoesNotContain(fixture.StoredToolchainFiles(), f => f.Contains("channel-rust-stable.toml", StringComparison.Ordinal) && !f.Contains(release.Date, StringComparison.Ordinal));

        // Upstream fixes its pair: the next request stores and serves it.
        fixture.Upstream.Set(Manifest + ".sha256", FakeToolchain.Sha256File(release.Files[Manifest], "channel-rust-stable.toml"));
        Assert.Equal(release.Files[Manifest], await http.GetByteArrayAsync(Manifest, ct));
    }

    [Fact]
    public async Task A_corrupted_archive_is_never_stored_and_the_good_one_is_later()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Manifest, ct)).StatusCode);
        var archive = fixture.Release.Archives[1];
        var good = fixture.Release.Files[archive];
        var bad = good.ToArray();
        bad[^10] ^= 0xFF;
        fixture.Upstream.Set(archive, bad);

        // The client never completes a body: the transfer breaks (streamed) or the mirror answers 502.
        await AssertNeverCompletesAsync(http, archive, ct);
        Assert.DoesNotContain("toolchains/files/" + archive, fixture.StoredToolchainFiles());

        fixture.Upstream.Set(archive, good);
        Assert.Equal(good, await http.GetByteArrayAsync(archive, ct));
        Assert.Contains("toolchains/files/" + archive, fixture.StoredToolchainFiles());
        Assert.Equal(2, fixture.Upstream.Requests(archive));
    }

    [Fact]
    public async Task A_cold_archive_streams_to_the_client_before_upstream_finishes()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Manifest, ct)).StatusCode);
        var archive = fixture.Release.Archives[0];
        var content = fixture.Release.Files[archive];
        var hold = fixture.Upstream.Hold(archive);

        using var response = await http.GetAsync(archive, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(content.Length, response.Content.Headers.ContentLength);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var first = new byte[content.Length / 2];
        await body.ReadExactlyAsync(first.AsMemory(0, first.Length - 1), ct); // up to the last byte held back
        Assert.Equal(content.AsSpan(0, first.Length - 1).ToArray(), first.AsSpan(0, first.Length - 1).ToArray());
        Assert.DoesNotContain("toolchains/files/" + archive, fixture.StoredToolchainFiles()); // nothing visible yet

        hold.Release();
        using var rest = new MemoryStream();
        rest.Write(first, 0, first.Length - 1);
        await body.CopyToAsync(rest, ct);
        Assert.Equal(content, rest.ToArray());
        Assert.Contains("toolchains/files/" + archive, fixture.StoredToolchainFiles());
    }

    [Fact]
    public async Task Rustup_update_root_files_are_served_verified_and_offline_with_their_age()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        var init = $"rustup/dist/{FakeToolchain.Target}/rustup-init";
        foreach (var path in new[] { "rustup/release-stable.toml", init, init + ".sha256" })
        {
            Assert.Equal(fixture.Release.Files[path], await http.GetByteArrayAsync(path, ct));
        }

        await fixture.Upstream.StopAsync();
        foreach (var path in new[] { "rustup/release-stable.toml", init, init + ".sha256", Manifest })
        {
            if (path == Manifest)
            {
                continue; // never fetched: not held
            }

            using var response = await http.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(fixture.Release.Files[path], await response.Content.ReadAsByteArrayAsync(ct));
            Assert.NotNull(response.Headers.Age);
        }

        // What was never fetched is unavailable with the upstream down, never "not found".
        using var missing = await http.GetAsync(Manifest, ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, missing.StatusCode);
    }

    [Fact]
    public async Task A_rustup_init_that_does_not_match_its_sha256_is_refused()
    {
        var ct = Deadline();
        var release = FakeToolchain.Create();
        var init = $"rustup/dist/{FakeToolchain.Target}/rustup-init";
        release.Files[init] = Encoding.UTF8.GetBytes("#!/bin/sh\necho tampered\n");
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, release: release);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        await AssertNeverCompletesAsync(http, init, ct);
        Assert.DoesNotContain(fixture.StoredToolchainFiles(), f => f.StartsWith("toolchains/blobs/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Policy_serves_only_the_allowed_channels()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, new Dictionary<string, string> { ["Toolchains__AllowedChannels__0"] = "stable" });
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Manifest, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync("dist/channel-rust-1.95.0.toml", ct)).StatusCode);
        Assert.Equal(0, fixture.Upstream.Requests("dist/channel-rust-1.95.0.toml"));
    }

    [Fact]
    public async Task With_ReadRequiresToken_rustup_paths_ask_for_basic_credentials()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct, new Dictionary<string, string> { ["Toolchains__ReadRequiresToken"] = "true" });
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        using var response = await http.GetAsync(Manifest, ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Basic", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, fixture.Upstream.TotalRequests);
    }

    /// <summary>The response is an error status, or its body breaks off: never a completed 200 body.</summary>
    internal static async Task AssertNeverCompletesAsync(HttpClient http, string path, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(path, ct);
            Assert.True((int)response.StatusCode >= 500, $"{path}: expected a failure, got {(int)response.StatusCode}");
        }
        catch (HttpRequestException)
        {
            // The streamed transfer was aborted: the client saw a broken body.
        }
    }

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token;
}
