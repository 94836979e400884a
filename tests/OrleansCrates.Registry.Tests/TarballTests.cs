using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using OrleansCrates.Testing;
using static OrleansCrates.Registry.Tests.Tarball;

namespace OrleansCrates.Registry.Tests;

/// <summary>The .crate must unpack the way cargo expects, and say what the metadata says.</summary>
public sealed class TarballTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static async Task<PublishResult> PublishAsync(RegistryHarness h, byte[] crateBytes, string name = "tarred", string version = "1.0.0", PrivateRegistry? node = null)
    {
        var json = PublishBody.NewCrateJson(CrateGraph.BuildCrate(name, version));
        return await (node ?? h.Registry).PublishAsync("alice", PublishBody.Stream(json, crateBytes), Ct);
    }

    [Fact]
    public async Task A_hand_made_crate_with_folders_is_accepted()
    {
        using var h = new RegistryHarness();
        var crate = Create(
            ("tarred-1.0.0/", null, TarEntryType.Directory),
            File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")),
            File("tarred-1.0.0/src/lib.rs", ""),
            File("tarred-1.0.0/" + new string('d', 150) + "/long-path.rs", "// a GNU long name"));
        var result = await PublishAsync(h, crate);
        Assert.True(result.Succeeded, result.Error?.ToString());
    }

    public static TheoryData<string, byte[], string> BrokenCrates => new()
    {
        {
            "wrong top folder",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")), File("other-1.0.0/src/lib.rs", "")),
            "the crate file contains `other-1.0.0/src/lib.rs`, outside `tarred-1.0.0/`; every entry must live under `tarred-1.0.0/`"
        },
        {
            "top folder of another version",
            Create(File("tarred-1.0.1/Cargo.toml", Manifest("tarred", "1.0.0"))),
            "the crate file contains `tarred-1.0.1/Cargo.toml`, outside `tarred-1.0.0/`"
        },
        {
            "top folder in another case",
            Create(File("Tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0"))),
            "the crate file contains `Tarred-1.0.0/Cargo.toml`, outside `tarred-1.0.0/`"
        },
        {
            "missing Cargo.toml",
            Create(File("tarred-1.0.0/src/lib.rs", ""), File("tarred-1.0.0/sub/Cargo.toml", Manifest("tarred", "1.0.0"))),
            "the crate file has no `tarred-1.0.0/Cargo.toml`"
        },
        {
            "zero bytes",
            Create(),
            "invalid upload request: the crate file is empty"
        },
        {
            "name mismatch",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("other", "1.0.0"))),
            "the crate's Cargo.toml says the package is named `other`, but the upload is for `tarred`"
        },
        {
            "name differs in case",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("Tarred", "1.0.0"))),
            "the crate's Cargo.toml says the package is named `Tarred`, but the upload is for `tarred`"
        },
        {
            "version mismatch",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.1"))),
            "the crate's Cargo.toml says the version is `1.0.1`, but the upload is for `1.0.0`"
        },
        {
            "no [package] name",
            Create(File("tarred-1.0.0/Cargo.toml", "[package]\nversion = \"1.0.0\"\n[dependencies]\nname = \"tarred\"\n")),
            "`tarred-1.0.0/Cargo.toml` in the crate file has no [package] name"
        },
        {
            "unreadable Cargo.toml",
            Create(File("tarred-1.0.0/Cargo.toml", "[package\nname = \"tarred\"\n")),
            "`tarred-1.0.0/Cargo.toml` in the crate file could not be read: (1,"
        },
        {
            "Cargo.toml twice",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")), File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0"))),
            "the crate file contains `tarred-1.0.0/Cargo.toml` more than once"
        },
        {
            "symbolic link",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")), ("tarred-1.0.0/evil", "/etc/passwd", TarEntryType.SymbolicLink)),
            "the crate file contains a link (`tarred-1.0.0/evil`); links are not allowed in crate files"
        },
        {
            "hard link",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")), ("tarred-1.0.0/hard", "tarred-1.0.0/Cargo.toml", TarEntryType.HardLink)),
            "the crate file contains a link (`tarred-1.0.0/hard`)"
        },
        {
            "device",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")), ("tarred-1.0.0/fifo", null, TarEntryType.Fifo)),
            "the crate file contains `tarred-1.0.0/fifo` of type Fifo; only files and folders are allowed"
        },
        {
            "parent folder",
            Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")), File("tarred-1.0.0/../../escape.rs", "")),
            "the crate file contains an entry with an invalid path (`tarred-1.0.0/../../escape.rs`)"
        },
        {
            "absolute path",
            Create(File("/tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0"))),
            "the crate file contains an entry with an absolute or empty path (`/tarred-1.0.0/Cargo.toml`)"
        },
        {
            "not gzip",
            "this is not a gzip stream at all"u8.ToArray(),
            "the crate file is not a valid gzip-compressed tar archive"
        },
        {
            "gzip but not tar",
            Gzip(new byte[700]),
            "the crate file has no `tarred-1.0.0/Cargo.toml`"
        },
        {
            "gzip of garbage",
            Gzip(Enumerable.Range(0, 2000).Select(i => (byte)(i * 7 + 3)).ToArray()),
            "the crate file is not a valid gzip-compressed tar archive"
        },
    };

    [Theory]
    [MemberData(nameof(BrokenCrates))]
    public async Task Broken_crate_files_are_refused_with_400(string what, byte[] crateBytes, string detail)
    {
        using var h = new RegistryHarness();
        var result = await PublishAsync(h, crateBytes);
        Assert.True(result.Error?.Status == 400, $"{what}: expected 400, got {result.Error?.ToString() ?? "success"}");
        Assert.StartsWith(detail, result.Error?.Detail);
        Assert.Empty(await h.PrivateKeysAsync());
    }

    [Fact]
    public async Task A_truncated_crate_file_is_refused()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("tarred", "1.0.0", paddingBytes: 50_000);
        var result = await PublishAsync(h, crate.CrateBytes[..(crate.CrateBytes.Length / 2)]);
        Assert.Equal(400, result.Error?.Status);
        Assert.StartsWith("the crate file is not a valid gzip-compressed tar archive", result.Error?.Detail);
    }

    [Fact]
    public async Task A_crate_that_unpacks_beyond_the_limit_is_refused()
    {
        using var h = new RegistryHarness();
        var node = h.NewNode(o => o.MaxUnpackedBytes = 64 * 1024);
        var bomb = Create(File("tarred-1.0.0/Cargo.toml", Manifest("tarred", "1.0.0")), File("tarred-1.0.0/zeros", new string('\0', 1024 * 1024)));
        Assert.True(bomb.Length < 16 * 1024, "the test crate should compress well");

        var result = await PublishAsync(h, bomb, node: node);

        Assert.Equal(new RegistryError(400, "the crate file unpacks to more than 65536 bytes"), result.Error);
    }

    [Fact]
    public async Task The_json_name_must_match_the_archive_exactly()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("Spelled", "1.0.0");
        var json = PublishBody.NewCrateJson(crate);
        json["name"] = "spelled";
        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(json, crate.CrateBytes), Ct);
        Assert.Equal(400, result.Error?.Status);
        Assert.StartsWith("the crate file contains `Spelled-1.0.0/Cargo.toml`, outside `spelled-1.0.0/`", result.Error?.Detail);
    }

    private static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return output.ToArray();
    }
}

public sealed class CargoManifestReaderTests
{
    [Fact]
    public void Reads_the_manifest_cargo_writes_into_a_package()
    {
        const string manifest = """
            # THIS FILE IS AUTOMATICALLY GENERATED BY CARGO
            #
            # When uploading crates to the registry Cargo will automatically
            # "normalize" Cargo.toml files for maximal compatibility

            [package]
            edition = "2021"
            rust-version = "1.70"
            name = "My-Crate"
            version = "0.3.0+build.5"
            build = "build.rs"
            links = "foo"
            publish = ["internal"]
            autolib = false
            description = "demo"
            readme = false
            keywords = [
                "a",
                "b",
            ]
            categories = ["development-tools"]
            license = "MIT"

            [features]
            default = []
            f1 = ["dep:dep-a"]

            [lib]
            name = "My_Crate"
            path = "src/lib.rs"

            [dependencies.dep-a]
            version = "1"
            registry-index = "sparse+http://127.0.0.1:18777/index/"
            optional = true

            [target."cfg(unix)".dev-dependencies.dep-a]
            version = "1.0.0"
            """;
        Assert.Equal(("My-Crate", "0.3.0+build.5", null), CargoManifestReader.Read(manifest));
    }

    [Fact]
    public void Manifests_at_cargos_own_nesting_parse()
    {
        const string manifest = "[package]\nname = \"a\"\nversion = \"1.0.0\"\nmetadata = { x = [[1, [2]], { y = [3] }] }\n";
        Assert.Equal(("a", "1.0.0", null), CargoManifestReader.Read(manifest));
    }

    [Fact]
    public void Text_inside_strings_and_arrays_is_never_taken_for_a_key()
    {
        const string manifest = """"
            [package]
            description = '''
            [package]
            name = "evil"
            '''
            keywords = [ # name = "evil"
              "x", "name = \"evil\"",
              { name = "evil" },
            ]
            documentation = """
            version = "6.6.6"
            \"""
            """
            name = "good"  # the real one
            'version' = "1.2.3"
            when = 1979-05-27 07:32:00Z
            inline = { version = "9.9.9", nested = { name = "evil" } }
            name2 = "\u0041\t"

            [package.metadata.docs]
            name = "evil"

            [[bin]]
            name = "evil"
            """";
        Assert.Equal(("good", "1.2.3", null), CargoManifestReader.Read(manifest));
    }

    [Theory]
    [InlineData("[project]\nname = 'old-style'\nversion = '0.1.0'\n", "old-style", "0.1.0")]
    [InlineData("\uFEFF[package]\r\nname = \"crlf\"\r\nversion = \"1.0.0\"\r\n", "crlf", "1.0.0")]
    [InlineData("[package]\nname.workspace = true\nversion = \"1.0.0\"\n", null, "1.0.0")]
    [InlineData("[dependencies]\nname = \"x\"\nversion = \"1\"\n", null, null)]
    [InlineData("[ package ]\nname = \"esc\\u0061ped\"\n", "escaped", null)]
    public void Reads_only_the_package_table(string manifest, string? name, string? version) =>
        Assert.Equal((name, version, null), CargoManifestReader.Read(manifest));

    [Theory]
    [InlineData("[package]\nname = \"a\"\nname = \"b\"\n", "(3,")]
    [InlineData("[package]\nname = 42\n", "`package.name` is not a string")]
    [InlineData("\"package\".name = \"x\"\n[ package ]\nname = \"y\"\n", "(2,")] // TOML forbids defining a table twice; cargo agrees
    [InlineData("[package]\nname = \"open\n", "(2,")]
    [InlineData("[package]\nname = \"x\" trailing\n", "(2,")]
    [InlineData("[package]\nkeys = [1, 2\n", "(3,")]
    [InlineData("[package]\nname = \"\\q\"\n", "(2,")]
    public void Reports_where_a_manifest_cannot_be_read(string manifest, string where)
    {
        // Tomlyn owns the wording now; what stays ours is that the error is reported and says where.
        var (name, version, error) = CargoManifestReader.Read(manifest);
        Assert.Equal((null, null), (name, version));
        Assert.NotNull(error);
        Assert.Contains(where, error, StringComparison.Ordinal);
    }
}
