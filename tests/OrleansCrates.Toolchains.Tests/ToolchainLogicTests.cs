using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
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

    [Fact]
    public void A_manifest_nesting_deeper_than_the_bound_is_refused_before_parsing()
    {
        var text = "manifest-version = \"2\"\nx = " + new string('[', 100_000) + new string(']', 100_000) + "\n";
        Assert.Null(ChannelManifest.TryParse(Encoding.UTF8.GetBytes(text), 1 << 20, out var error));
        Assert.Contains("nest more than", error, StringComparison.Ordinal);
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
        var document = new ToolchainDocument(DateTimeOffset.UnixEpoch, "up", body, release.Files["dist/channel-rust-stable.toml.sha256"], null)
        {
            Date = release.Date,
            KeptFrom = "dist/channel-rust-stable.toml",
        };
        var stored = document.Serialize();
        var read = ToolchainDocument.TryDeserialize(stored);
        Assert.NotNull(read);
        Assert.Equal(body, read.Body.ToArray());
        Assert.Equal(release.Files["dist/channel-rust-stable.toml.sha256"], read.Sha256File!.Value.ToArray());
        Assert.Null(read.Signature);
        Assert.Equal(FakeToolchain.Hex(body), read.PublishedSha256);
        Assert.Equal((release.Date, "dist/channel-rust-stable.toml"), (read.Date, read.KeptFrom));
        Assert.Null(ToolchainDocument.TryDeserialize(stored[..^1]));

        // Read without copies: the parts are slices of the stored buffer.
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(read.Body, out var segment) && ReferenceEquals(segment.Array, stored));
    }

    [Fact]
    public void A_record_stored_before_dates_were_kept_still_reads()
    {
        var header = "{\"FetchedAt\":\"2026-01-01T00:00:00+00:00\",\"Upstream\":\"up\",\"Body\":2,\"Sha256\":-1,\"Signature\":-1}\nab"u8.ToArray();
        var read = ToolchainDocument.TryDeserialize(header);
        Assert.NotNull(read);
        Assert.Equal("ab"u8.ToArray(), read.Body.ToArray());
        Assert.Null(read.Date);
        Assert.Null(read.KeptFrom);
        Assert.Null(read.Sha256File);
    }

    [Theory]
    [InlineData("stable", null, true)]
    [InlineData("stable", "2026-11-20", false)] // a dated stable needs its own pattern (or to be the mirror's copy of a stable it served)
    [InlineData("1.95.0", null, true)]
    [InlineData("1.95.0", "2026-11-20", true)]
    [InlineData("1.94.0", null, false)]
    [InlineData("nightly", "2026-11-20", true)]
    [InlineData("nightly", "2026-10-01", false)]
    [InlineData("nightly", null, false)]
    [InlineData("beta", "2026-11-03", true)] // two stars
    [InlineData("beta", "2026-12-03", false)]
    public void Policy_allows_channels_versions_and_dates_by_pattern(string channel, string? date, bool allowed)
    {
        var options = new ToolchainOptions { AllowedChannels = ["stable", "1.95.*", "nightly-2026-11-*", "beta-*-11-*"] };
        Assert.Equal(allowed, options.Allows(channel, date));
        Assert.True(new ToolchainOptions().Allows(channel, date));
    }

    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "abc", true)]
    [InlineData("a*b*c", "acb", false)]
    [InlineData("**", "", true)]
    [InlineData("1.9*", "1.95.0", true)]
    [InlineData("1.9*", "2.0", false)]
    public void Patterns_match_any_number_of_stars(string pattern, string value, bool matches) =>
        Assert.Equal(matches, ToolchainOptions.Glob(pattern, value));

    [Fact]
    public void Bad_policy_patterns_stop_the_start_with_their_names()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Toolchains:AllowedChannels:0"] = "stable",
            ["Toolchains:AllowedChannels:1"] = "nightly 2026-*",
            ["Toolchains:AllowedChannels:2"] = "1.95/*",
            ["Toolchains:AllowedChannels:3"] = " ",
        }).Build();
        using var provider = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddToolchains(configuration).BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Toolchains:AllowedChannels:1 'nightly 2026-*'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Toolchains:AllowedChannels:2 '1.95/*'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Toolchains:AllowedChannels:3 is empty", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("AllowedChannels:0", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  rustc.tar.xz\n", true)]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *rustc.tar.xz\n", true)]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n", true)]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  cargo.tar.xz\n", false)] // another file's
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  rustc.tar.xz\nmore\n", false)]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855rustc.tar.xz", false)]
    [InlineData("<html><body>e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855</body></html>", false)]
    public void Archive_sha256_sidecars_are_read_strictly(string text, bool valid) =>
        Assert.Equal(valid ? "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" : null, ChannelManifest.ParseSidecarSha256(Encoding.ASCII.GetBytes(text), "rustc.tar.xz"));

    [Theory]
    [InlineData("-----BEGIN PGP SIGNATURE-----\n\niQIzBAABCgAdFiEE\n-----END PGP SIGNATURE-----\n", true)]
    [InlineData("<html>502 Bad Gateway</html>", false)]
    [InlineData("-----BEGIN PGP SIGNATURE-----\nno end\n", false)]
    public void Signatures_must_be_armoured(string text, bool valid) =>
        Assert.Equal(valid, ChannelManifest.IsArmouredSignature(Encoding.ASCII.GetBytes(text)));

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
        Assert.Equal(TimeSpan.FromSeconds(120), new Mirror.MirrorOptions { MaxCrateBytes = 10 * 1024 * 1024 }.ColdFetchDeadline); // its own bound
    }
}
