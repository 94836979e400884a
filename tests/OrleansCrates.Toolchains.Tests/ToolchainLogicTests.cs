using System.Text;
using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>The toolchain mirror's logic: which paths it serves and how, what it reads from a manifest, its records, its policy.</summary>
public sealed class ToolchainLogicTests
{
    [Theory]
    [InlineData("dist/channel-rust-stable.toml", ToolchainFileKind.Manifest, "stable", null, true)]
    [InlineData("dist/channel-rust-1.95.toml.sha256", ToolchainFileKind.ManifestSha256, "1.95", null, true)]
    [InlineData("dist/2026-11-20/channel-rust-nightly.toml.asc", ToolchainFileKind.ManifestSignature, "nightly", "2026-11-20", false)]
    [InlineData("dist/2026-11-20/rustc-1.95.0-x86_64-unknown-linux-gnu.tar.xz", ToolchainFileKind.Archive, null, "2026-11-20", false)]
    [InlineData("dist/2026-11-20/rustc-1.95.0-x86_64-unknown-linux-gnu.tar.xz.sha256", ToolchainFileKind.ArchiveSidecar, null, "2026-11-20", false)]
    [InlineData("rustup/release-stable.toml", ToolchainFileKind.RustupRelease, null, null, true)]
    [InlineData("rustup/dist/x86_64-unknown-linux-gnu/rustup-init", ToolchainFileKind.RustupBinary, null, null, true)]
    [InlineData("rustup/dist/x86_64-pc-windows-msvc/rustup-init.exe.sha256", ToolchainFileKind.RustupBinarySha256, null, null, true)]
    [InlineData("rustup/archive/1.29.0/x86_64-unknown-linux-gnu/rustup-init", ToolchainFileKind.RustupBinary, null, null, false)]
    public void Paths_are_classified(string path, ToolchainFileKind kind, string? channel, string? date, bool moving)
    {
        Assert.True(ToolchainPath.TryParse(path, out var parsed));
        Assert.Equal((kind, channel, date, moving), (parsed.Kind, parsed.Channel, parsed.Date, parsed.Moving));
    }

    [Theory]
    [InlineData("")]
    [InlineData("dist/../secret")]
    [InlineData("dist/.hidden")]
    [InlineData("index/se/rd/serde")]
    [InlineData("rustup/dist/x86_64-unknown-linux-gnu/cargo")]
    [InlineData("dist//channel-rust-stable.toml")]
    [InlineData("dist/a b")]
    public void Other_paths_are_refused(string path) => Assert.False(ToolchainPath.TryParse(path, out _));

    [Fact]
    public void A_manifest_and_its_checksum_and_signature_share_one_owner_and_record()
    {
        Assert.True(ToolchainPath.TryParse("dist/channel-rust-stable.toml.sha256", out var sha));
        Assert.True(ToolchainPath.TryParse("dist/channel-rust-stable.toml.asc", out var asc));
        Assert.Equal("dist/channel-rust-stable.toml", sha.OwnerPath);
        Assert.Equal(sha.DocumentKey, asc.DocumentKey);
    }

    [Fact]
    public void A_channel_manifest_gives_every_archive_path_and_hash_and_the_profiles()
    {
        var release = FakeToolchain.Create();
        var bytes = release.Files["dist/channel-rust-stable.toml"];
        var manifest = ChannelManifest.TryParse(bytes, bytes.Length, out var error);
        Assert.Null(error);
        Assert.NotNull(manifest);
        Assert.Equal(release.Date, manifest.Date);
        foreach (var archive in release.Archives)
        {
            Assert.Contains(manifest.Archives, a => a.Path == archive && a.Sha256 == FakeToolchain.Hex(release.Files[archive]));
        }

        Assert.Equal(FakeToolchain.Components, manifest.Profiles["minimal"]);
    }

    [Fact]
    public void A_manifest_larger_than_the_limit_is_not_parsed()
    {
        var bytes = FakeToolchain.Create().Files["dist/channel-rust-stable.toml"];
        Assert.Null(ChannelManifest.TryParse(bytes, bytes.Length - 1, out var error));
        Assert.Contains("limit", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("manifest-version = \"1\"\n")]
    [InlineData("<html>not toml")]
    [InlineData("")]
    public void What_is_not_a_v2_manifest_is_refused(string text) =>
        Assert.Null(ChannelManifest.TryParse(Encoding.UTF8.GetBytes(text), 1 << 20, out _));

    [Theory]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  channel-rust-stable.toml\n", true)]
    [InlineData("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", true)]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", false)]
    [InlineData("<html>e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855</html>", false)]
    public void Sha256_files_are_read_strictly(string text, bool valid) =>
        Assert.Equal(valid ? "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" : null, ChannelManifest.ParseSha256File(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void A_record_keeps_the_manifest_its_checksum_and_signature_byte_for_byte()
    {
        var release = FakeToolchain.Create();
        var body = release.Files["dist/channel-rust-stable.toml"];
        var document = new ToolchainDocument(DateTimeOffset.UnixEpoch, "up", body, release.Files["dist/channel-rust-stable.toml.sha256"], null);
        var read = ToolchainDocument.TryDeserialize(document.Serialize());
        Assert.NotNull(read);
        Assert.Equal(body, read.Body);
        Assert.Equal(document.Sha256File, read.Sha256File);
        Assert.Null(read.Signature);
        Assert.Equal(FakeToolchain.Hex(body), read.PublishedSha256);
        Assert.Null(ToolchainDocument.TryDeserialize(document.Serialize()[..^1]));
    }

    [Theory]
    [InlineData("stable", null, true)]
    [InlineData("stable", "2026-11-20", true)]
    [InlineData("1.95.0", null, true)]
    [InlineData("1.94.0", null, false)]
    [InlineData("nightly", "2026-11-20", true)]
    [InlineData("nightly", "2026-10-01", false)]
    [InlineData("nightly", null, false)]
    public void Policy_allows_channels_versions_and_dates_by_pattern(string channel, string? date, bool allowed)
    {
        var options = new ToolchainOptions { AllowedChannels = ["stable", "1.95.*", "nightly-2026-11-*"] };
        Assert.Equal(allowed, options.Allows(channel, date));
        Assert.True(new ToolchainOptions().Allows(channel, date));
    }

    [Theory]
    [InlineData("stable", "dist/channel-rust-stable.toml")]
    [InlineData("1.95.0", "dist/channel-rust-1.95.0.toml")]
    [InlineData("nightly-2026-11-20", "dist/2026-11-20/channel-rust-nightly.toml")]
    public void Prefetch_finds_the_manifest_of_a_channel(string channel, string path) =>
        Assert.Equal(path, ToolchainPrefetcher.ManifestPathOf(channel));

    [Theory]
    [InlineData(4L * 1024 * 1024 * 1024, 4096)] // the default 4 GiB at 1 MiB/s
    [InlineData(10L * 1024 * 1024, 120)] // never less than two minutes
    [InlineData(long.MaxValue, 86400)] // never more than the grain call's day
    public void A_toolchain_request_waits_for_a_cold_file_by_the_largest_archive_not_the_largest_crate(long maxArchiveBytes, double seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), new ToolchainOptions { MaxArchiveBytes = maxArchiveBytes }.ColdFetchDeadline);
        Assert.Equal(TimeSpan.FromSeconds(120), new Core.Mirror.MirrorOptions { MaxCrateBytes = 10 * 1024 * 1024 }.ColdFetchDeadline); // its own bound
    }
}
