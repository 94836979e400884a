using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>The machine's real rustup installs toolchains through a real mirror process in front of a fake dist server.</summary>
public sealed class RustupThroughMirrorTests
{
    [Fact]
    public void The_machines_rustup_is_there() =>
        Assert.True(File.Exists(RustupHome.Executable), $"these tests need the real rustup at {RustupHome.Executable}");

    [Fact]
    public async Task Rustup_installs_through_the_mirror_once_per_archive_and_again_with_the_upstream_gone()
    {
        var ct = Deadline();
        await using var fixture = await ToolchainMirrorFixture.StartAsync(ct);

        // Several fresh machines at once, two of them by channel name and one by version: one upstream GET per archive.
        using var a = new RustupHome(fixture.DistServer);
        using var b = new RustupHome(fixture.DistServer);
        using var c = new RustupHome(fixture.DistServer);
        await Task.WhenAll(a.InstallAsync("stable", ct), b.InstallAsync("stable", ct), c.InstallAsync("1.95.0", ct));
        Assert.Equal(fixture.Release.RustcVersionLine, await a.RustcVersionAsync("stable", ct));
        Assert.Equal(fixture.Release.RustcVersionLine, await c.RustcVersionAsync("1.95.0", ct));

        // rustup takes the .tar.xz of each component when the manifest lists one (it prefers zst, then xz, then gz):
        // exactly those were fetched, each once, and stored.
        var expected = fixture.Release.Archives.Where(p => p.EndsWith(".tar.xz", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        var fetched = fixture.Release.Archives.Where(p => fixture.Upstream.Requests(p) > 0).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(FakeToolchain.Components.Length, expected.Count);
        Assert.Equal(expected, fetched);
        Assert.All(fetched, p => Assert.Equal(1, fixture.Upstream.Requests(p)));
        Assert.All(fetched, p => Assert.Contains("toolchains/files/" + p, fixture.StoredToolchainFiles()));

        // The dist server goes away: another fresh machine installs both from the mirror alone.
        await fixture.Upstream.StopAsync();
        using var offline = new RustupHome(fixture.DistServer);
        await offline.InstallAsync("stable", ct);
        await offline.InstallAsync("1.95.0", ct);
        Assert.Equal(fixture.Release.RustcVersionLine, await offline.RustcVersionAsync("stable", ct));
    }

    [Fact]
    public async Task The_fake_dist_server_alone_installs_too()
    {
        // The fixture's release is in rustup's format: straight from the fake server, without the mirror.
        var ct = Deadline();
        var release = FakeToolchain.Create();
        await using var upstream = await FakeDistServer.StartAsync(release.Files, ct);
        using var home = new RustupHome(upstream.Url);
        await home.InstallAsync("stable", ct);
        Assert.Equal(release.RustcVersionLine, await home.RustcVersionAsync("stable", ct));
    }

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;
}
