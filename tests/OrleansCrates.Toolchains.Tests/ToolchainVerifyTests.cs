using System.Net;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary><c>verify</c> (the CLI, as a process) over a toolchain mirror's store: JSON too, sidecars, rustup-init blobs, the configured options.</summary>
public sealed class ToolchainVerifyTests
{
    [Fact]
    public async Task Verify_json_covers_toolchains_with_sidecars_and_rustup_init_blobs()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        var release = fixture.Release;
        var archive = release.Archives.First(a => a.EndsWith(".tar.xz", StringComparison.Ordinal));
        var init = $"rustup/dist/{FakeToolchain.Target}/rustup-init";
        foreach (var path in new[] { "dist/channel-rust-stable.toml", archive, archive + ".sha256", init })
        {
            Assert.Equal(release.Files[path], await http.GetByteArrayAsync(path, ct));
        }

        var clean = await ServerCli.RunAsync(fixture.CliEnvironment, ["verify", "--json"], ct);
        Assert.True(clean.ExitCode == 0, clean.StdOut + clean.StdErr);
        var summary = LastLine(clean.StdOut);
        Assert.True(summary.GetProperty("ok").GetBoolean());
        Assert.Equal(2, summary.GetProperty("toolchain_manifests").GetInt32()); // stable, and its copy under its date
        Assert.Equal(3, summary.GetProperty("toolchain_files").GetInt32()); // the archive, its .sha256, the rustup-init blob
        Assert.Equal(0, summary.GetProperty("toolchain_problems").GetInt32());

        // The sidecar says another hash, and the blob a rustup-init record names is gone.
        var sidecar = Path.Combine(fixture.StorageRoot, "toolchains", "files", archive + ".sha256");
        await File.WriteAllBytesAsync(sidecar, FakeToolchain.Sha256File("tampered"u8.ToArray(), archive[(archive.LastIndexOf('/') + 1)..]), ct);
        File.Delete(Path.Combine(fixture.StorageRoot, "toolchains", "blobs", "sha256", FakeToolchain.Hex(release.Files[init])));

        var broken = await ServerCli.RunAsync(fixture.CliEnvironment, ["verify", "--json"], ct);
        Assert.True(broken.ExitCode == 1, broken.StdOut + broken.StdErr);
        var lines = broken.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToList();
        var findings = lines.SkipLast(1).Where(l => l.GetProperty("kind").GetString() == "toolchain").Select(l => l.GetProperty("crate").GetString()).ToList();
        Assert.Equal(["toolchains/docs/" + init, "toolchains/files/" + archive + ".sha256"], findings.Order(StringComparer.Ordinal));
        Assert.False(lines[^1].GetProperty("ok").GetBoolean());
        Assert.Equal(2, lines[^1].GetProperty("toolchain_problems").GetInt32());

        var text = await ServerCli.RunAsync(fixture.CliEnvironment, ["verify"], ct);
        Assert.Equal(1, text.ExitCode);
        Assert.Contains($"toolchain  toolchains/files/{archive}.sha256: says sha256", text.StdOut, StringComparison.Ordinal);
        Assert.Contains($"toolchain  toolchains/docs/{init}: its binary toolchains/blobs/sha256/", text.StdOut, StringComparison.Ordinal);
        Assert.Contains("verify toolchains: FAILED", text.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_uses_the_configured_toolchain_options()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = new Uri(fixture.DistServer + "/") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("dist/channel-rust-stable.toml", ct)).StatusCode);

        // A store checked under a smaller manifest limit than it was filled with: verify applies the configured one.
        var small = new Dictionary<string, string>(fixture.CliEnvironment) { ["Toolchains__MaxManifestBytes"] = "100" };
        var strict = await ServerCli.RunAsync(small, ["verify"], ct);
        Assert.True(strict.ExitCode == 1, strict.StdOut + strict.StdErr);
        Assert.Contains("toolchain  toolchains/docs/dist/channel-rust-stable.toml:", strict.StdOut, StringComparison.Ordinal);

        // And validates them as the server does.
        var invalid = new Dictionary<string, string>(fixture.CliEnvironment) { ["Toolchains__AllowedChannels__0"] = "stable beta" };
        var refused = await ServerCli.RunAsync(invalid, ["verify"], ct);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Toolchains:AllowedChannels:0 'stable beta'", refused.StdErr, StringComparison.Ordinal);
    }

    private static JsonElement Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        return json.RootElement.Clone();
    }

    private static JsonElement LastLine(string stdout) => Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(4)).Token;
}
