using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary><c>prefetch-toolchain</c> fills a store from the dist server; a mirror on it then installs with the dist server gone; <c>verify</c> checks it.</summary>
public sealed class PrefetchToolchainTests
{
    [Fact]
    public async Task Prefetch_then_install_offline_and_verify_catches_a_tampered_archive()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromMinutes(4)).Token;
        var sandbox = Directory.CreateTempSubdirectory("oc-prefetch-tc-").FullName;
        var store = Path.Combine(sandbox, "store");
        var release = FakeToolchain.Create();
        var environment = new Dictionary<string, string> { ["Storage__FileSystem__Root"] = store };
        try
        {
            await using (var upstream = await FakeDistServer.StartAsync(release.Files, ct))
            {
                environment["Toolchains__Upstreams__0__Url"] = upstream.Url;
                var prefetch = await ServerCli.RunAsync(environment, ["prefetch-toolchain", "stable", "--profile", "minimal"], ct);
                Assert.True(prefetch.ExitCode == 0, prefetch.StdOut + prefetch.StdErr);
                Assert.Contains("prefetch-toolchain: OK", prefetch.StdOut, StringComparison.Ordinal);
                Assert.All(release.Archives, a => Assert.Equal(1, upstream.Requests(a)));
            }

            var verify = await ServerCli.RunAsync(environment, ["verify"], ct);
            Assert.True(verify.ExitCode == 0, verify.StdOut + verify.StdErr);
            Assert.Contains("verify toolchains: OK", verify.StdOut, StringComparison.Ordinal);

            // The dist server is gone: a mirror on the prefetched store installs the toolchain on a fresh machine.
            await using (var mirror = await MirrorProcess.StartAsync("http://127.0.0.1:9/index/", store, new Dictionary<string, string> { ["Toolchains__Upstreams__0__Url"] = "http://127.0.0.1:9" }, ct))
            {
                using var home = new RustupHome(mirror.BaseUri + "rustup");
                await home.InstallAsync("stable", ct);
                Assert.Equal(release.RustcVersionLine, await home.RustcVersionAsync("stable", ct));
            }

            // A stored archive changed behind the mirror's back: verify says so and fails.
            var stored = Path.Combine(store, "toolchains", "files", release.Archives[0]);
            var bytes = await File.ReadAllBytesAsync(stored, ct);
            bytes[^1] ^= 0xFF;
            await File.WriteAllBytesAsync(stored, bytes, ct);
            var broken = await ServerCli.RunAsync(environment, ["verify"], ct);
            Assert.Equal(1, broken.ExitCode);
            Assert.Contains($"toolchain  toolchains/files/{release.Archives[0]}: sha256", broken.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(sandbox, recursive: true);
        }
    }
}
