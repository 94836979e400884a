using System.Diagnostics;
using System.Text;
using OrleansCrates.Protocol;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// The real cargo decides: what the registry stored (index lines and crate files) is laid out as a cargo
/// <c>local-registry</c>, which cargo reads with the same index parser and checksum verification as a sparse one, and
/// a project is resolved and built from it offline.
/// </summary>
public sealed class CargoAcceptanceTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Cargo_resolves_verifies_and_builds_what_was_published()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "base-dep", "1.0.0");
        await h.PublishAsync("alice", "base-dep", "1.1.0");
        Assert.True((await h.Registry.YankAsync("alice", false, CrateName.Parse("base-dep"), "1.1.0", true, Ct)).Succeeded);
        var mixed = CrateGraph.BuildCrate(
            "Mixed-Case",
            "0.3.0+build.5",
            dependencies: [new CrateDependency("renamed", "^1", Package: "base-dep", Optional: true)],
            features: new Dictionary<string, IReadOnlyList<string>> { ["default"] = [], ["fx"] = ["dep:renamed"] });
        var published = await h.Registry.PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(mixed), mixed.CrateBytes), Ct);
        Assert.True(published.Succeeded, published.Error?.ToString());
        Assert.Contains("\"features2\":{\"fx\":[\"dep:renamed\"]}", await h.IndexTextAsync("mixed-case"), StringComparison.Ordinal);

        var root = Directory.CreateTempSubdirectory("orleanscrates-cargo-local-").FullName;
        try
        {
            var registry = Path.Combine(root, "registry");
            foreach (var (name, versions) in new[] { ("base-dep", new[] { "1.0.0", "1.1.0" }), ("Mixed-Case", new[] { "0.3.0+build.5" }) })
            {
                var crateName = CrateName.Parse(name);
                var index = await h.Registry.GetIndexFileAsync(crateName, Ct);
                Assert.NotNull(index);
                var indexPath = Path.Combine(registry, "index", crateName.IndexPath);
                Directory.CreateDirectory(Path.GetDirectoryName(indexPath)!);
                await File.WriteAllBytesAsync(indexPath, index.Content.ToArray(), Ct);
                foreach (var version in versions)
                {
                    await using var file = await h.Registry.OpenCrateFileAsync(crateName, version, Ct);
                    Assert.True(file.Found, file.Detail);
                    await using var copy = File.Create(Path.Combine(registry, $"{name}-{version}.crate"));
                    await file.File.Content.CopyToAsync(copy, Ct);
                }
            }

            var home = Path.Combine(root, "cargo-home");
            Directory.CreateDirectory(home);
            await File.WriteAllTextAsync(Path.Combine(home, "config.toml"), $"""
                [source.crates-io]
                replace-with = "local"

                [source.local]
                local-registry = "{registry.Replace("\\", "/", StringComparison.Ordinal)}"
                """, Ct);
            var project = Path.Combine(root, "consumer");
            Directory.CreateDirectory(Path.Combine(project, "src"));
            await File.WriteAllTextAsync(Path.Combine(project, "Cargo.toml"), """
                [package]
                name = "consumer"
                version = "0.1.0"
                edition = "2021"
                publish = false

                [workspace]

                [dependencies]
                base-dep = "1"
                Mixed-Case = { version = "0.3", features = ["fx"] }
                """, Ct);
            await File.WriteAllTextAsync(Path.Combine(project, "src", "main.rs"), """
                fn main() {
                    println!("{} {}", base_dep::NAME, base_dep::VERSION);
                    println!("{} {}", Mixed_Case::NAME, Mixed_Case::VERSION);
                }
                """, Ct);

            var (exit, output) = await RunCargoAsync(project, home, Path.Combine(root, "target"), "run", "--offline", "--quiet");

            Assert.True(exit == 0, $"Expected cargo run to succeed, got exit {exit}:\n{output}");
            Assert.Contains("base-dep 1.0.0", output, StringComparison.Ordinal); // 1.1.0 is yanked
            Assert.Contains("Mixed-Case 0.3.0+build.5", output, StringComparison.Ordinal);
            var lockfile = await File.ReadAllTextAsync(Path.Combine(project, "Cargo.lock"), Ct);
            Assert.Contains($"checksum = \"{mixed.Sha256}\"", lockfile, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunCargoAsync(string project, string home, string target, params string[] args)
    {
        var start = new ProcessStartInfo(CargoProject.CargoExecutable)
        {
            WorkingDirectory = project,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["CARGO_HOME"] = home;
        start.Environment["CARGO_TARGET_DIR"] = target;
        start.Environment["CARGO_TERM_COLOR"] = "never";
        start.Environment.Remove("RUSTUP_TOOLCHAIN");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(Ct);
            return (-1, $"cargo {string.Join(' ', args)} did not finish within 2 minutes\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
