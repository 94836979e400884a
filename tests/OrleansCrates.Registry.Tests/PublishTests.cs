using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

public sealed class PublishTests
{
    private const string PubTime = "2026-05-04T03:02:01Z";
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_publish_lands_in_the_index_and_storage_and_every_node_serves_it()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("demo-crate", "1.0.0");

        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crate), crate.CrateBytes), Ct);

        Assert.True(result.Succeeded, $"Expected the publish to succeed, got {result.Error}");
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(crate.CrateBytes));
        Assert.Equal(new PublishedVersion("demo-crate", "1.0.0", sha256, true, PublishWarnings.None), result.Published);
        var expectedIndex =
            $"{{\"name\":\"demo-crate\",\"vers\":\"1.0.0\",\"deps\":[],\"cksum\":\"{sha256}\",\"features\":{{}},\"yanked\":false,\"links\":null,\"pubtime\":\"{PubTime}\"}}\n";
        var etags = new List<string>();
        foreach (var node in new[] { h.Registry, h.NewNode(), h.NewNode() })
        {
            var index = await node.GetIndexFileAsync(CrateName.Parse("demo-crate"), Ct);
            Assert.NotNull(index);
            Assert.Equal(expectedIndex, Encoding.UTF8.GetString(index.Content.Span));
            Assert.Matches("^\"[0-9a-f]{32}\"$", index.ETag);
            etags.Add(index.ETag);

            await using var file = await node.OpenCrateFileAsync(CrateName.Parse("Demo-Crate"), "1.0.0", Ct);
            Assert.True(file.Found, file.Detail);
            Assert.Equal(sha256, file.Checksum);
            Assert.Equal(crate.CrateBytes.Length, file.File.Length);
            using var bytes = new MemoryStream();
            await file.File.Content.CopyToAsync(bytes, Ct);
            Assert.Equal(crate.CrateBytes, bytes.ToArray());
        }

        Assert.Single(etags.Distinct());
        Assert.Equal(
            [$"private/crates/de/mo/demo-crate/demo-crate-1.0.0-{sha256}.crate", "private/index/de/mo/demo-crate", "private/meta/demo_crate.json"],
            await h.PrivateKeysAsync());
        var owners = await h.Registry.ListOwnersAsync(CrateName.Parse("demo_crate"), Ct);
        Assert.Equal(["alice"], owners.Logins);
        Assert.True(await h.NewNode().IsPrivateCrateAsync("DEMO_crate", Ct));
    }

    [Fact]
    public async Task The_index_line_translates_dependencies_features_and_the_three_registry_cases()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "base-dep", "1.0.0");
        var crate = CrateGraph.BuildCrate("app", "0.2.0");
        var json = PublishBody.NewCrateJson(crate);
        json["deps"] = JsonNode.Parse("""
            [
              {"optional":false,"default_features":true,"name":"base-dep","features":[],"version_req":"^1","target":null,"kind":"normal"},
              {"optional":true,"default_features":false,"name":"serde","features":["derive"],"version_req":"^1.0","target":null,"kind":"normal","registry":"https://github.com/rust-lang/crates.io-index","explicit_name_in_toml":"serde1"},
              {"optional":false,"default_features":true,"name":"other-lib","features":[],"version_req":">=2, <3","target":"cfg(unix)","kind":"dev","registry":"sparse+https://other.example/index/"},
              {"optional":false,"default_features":true,"name":"cc","features":[],"version_req":"1.0.0","target":null,"kind":"build","registry":"https://github.com/rust-lang/crates.io-index"}
            ]
            """);
        json["features"] = JsonNode.Parse("""{"std":[],"default":["std"],"json":["dep:serde1","serde1?/std"]}""");
        json["links"] = "z";
        json["rust_version"] = "1.70";

        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(json, crate.CrateBytes), Ct);

        Assert.True(result.Succeeded, $"Expected the publish to succeed, got {result.Error}");
        var expected =
            "{\"name\":\"app\",\"vers\":\"0.2.0\",\"deps\":["
            + "{\"name\":\"base-dep\",\"req\":\"^1\",\"features\":[],\"optional\":false,\"default_features\":true,\"target\":null,\"kind\":\"normal\",\"registry\":null},"
            + "{\"name\":\"serde1\",\"req\":\"^1.0\",\"features\":[\"derive\"],\"optional\":true,\"default_features\":false,\"target\":null,\"kind\":\"normal\",\"registry\":\"https://github.com/rust-lang/crates.io-index\",\"package\":\"serde\"},"
            + "{\"name\":\"other-lib\",\"req\":\">=2, <3\",\"features\":[],\"optional\":false,\"default_features\":true,\"target\":\"cfg(unix)\",\"kind\":\"dev\",\"registry\":\"sparse+https://other.example/index/\"},"
            + "{\"name\":\"cc\",\"req\":\"1.0.0\",\"features\":[],\"optional\":false,\"default_features\":true,\"target\":null,\"kind\":\"build\",\"registry\":\"https://github.com/rust-lang/crates.io-index\"}"
            + $"],\"cksum\":\"{crate.Sha256}\",\"features\":{{\"default\":[\"std\"],\"std\":[]}},\"features2\":{{\"json\":[\"dep:serde1\",\"serde1?/std\"]}},"
            + $"\"yanked\":false,\"links\":\"z\",\"rust_version\":\"1.70\",\"v\":2,\"pubtime\":\"{PubTime}\"}}\n";
        Assert.Equal(expected, await h.IndexTextAsync("app"));
    }

    /// <summary>The metadata cargo 1.95 really sent for a crate with every kind of dependency (captured from `cargo publish`).</summary>
    private const string Cargo195NewCrate = """
        {"name":"My-Crate","vers":"0.3.0+build.5","deps":[{"optional":true,"default_features":true,"name":"dep-a","features":[],"version_req":"^1","target":null,"kind":"normal"},{"optional":false,"default_features":true,"name":"dep-b","features":[],"version_req":"^2","target":null,"kind":"normal","registry":"sparse+http://127.0.0.1:18777/other/"},{"optional":true,"default_features":false,"name":"serde","features":["x"],"version_req":"^1.0","target":null,"kind":"normal","registry":"https://github.com/rust-lang/crates.io-index","explicit_name_in_toml":"renamed"},{"optional":false,"default_features":true,"name":"dep-a","features":[],"version_req":"^1.0.0","target":"cfg(unix)","kind":"dev"}],"features":{"default":[],"f1":["dep:dep-a"],"f2":["renamed?/x"],"plain":[]},"authors":[],"description":"demo","documentation":null,"homepage":null,"readme":null,"readme_file":null,"keywords":["a","b"],"categories":["development-tools"],"license":"MIT","license_file":null,"repository":null,"badges":{},"links":"foo","rust_version":"1.70"}
        """;

    [Fact]
    public async Task The_metadata_cargo_really_sends_is_accepted_and_translated()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "dep-a", "1.0.0");
        var crate = CrateGraph.BuildCrate("My-Crate", "0.3.0+build.5");

        var result = await h.Registry.PublishAsync(
            "alice", new MemoryStream(PublishBody.Build(Encoding.UTF8.GetBytes(Cargo195NewCrate), crate.CrateBytes)), Ct);

        Assert.True(result.Succeeded, $"Expected the publish to succeed, got {result.Error}");
        Assert.True(result.Published.Warnings.IsEmpty);
        var line = JsonAssert.ParseLine((await h.IndexTextAsync("my-crate")).TrimEnd('\n'));
        Assert.Equal("My-Crate", line.GetProperty("name").GetString());
        Assert.Equal("0.3.0+build.5", line.GetProperty("vers").GetString());
        var deps = line.GetProperty("deps").EnumerateArray().ToList();
        Assert.Equal(["dep-a", "dep-b", "renamed", "dep-a"], deps.Select(d => d.GetProperty("name").GetString()));
        Assert.Equal(
            [null, "sparse+http://127.0.0.1:18777/other/", "https://github.com/rust-lang/crates.io-index", null],
            deps.Select(d => d.GetProperty("registry").ValueKind == JsonValueKind.Null ? null : d.GetProperty("registry").GetString()));
        Assert.Equal("serde", deps[2].GetProperty("package").GetString());
        Assert.False(deps[0].TryGetProperty("package", out _));
        Assert.Equal("cfg(unix)", deps[3].GetProperty("target").GetString());
        Assert.Equal("dev", deps[3].GetProperty("kind").GetString());
        Assert.Equal("""{"default":[],"plain":[]}""", line.GetProperty("features").GetRawText());
        Assert.Equal("""{"f1":["dep:dep-a"],"f2":["renamed?/x"]}""", line.GetProperty("features2").GetRawText());
        Assert.Equal(2, line.GetProperty("v").GetInt32());
        Assert.Equal("foo", line.GetProperty("links").GetString());
        Assert.Equal("1.70", line.GetProperty("rust_version").GetString());

        await using var file = await h.NewNode().OpenCrateFileAsync(CrateName.Parse("my-crate"), "0.3.0+build.5", Ct);
        Assert.True(file.Found, file.Detail);
        Assert.Equal(crate.Sha256, file.Checksum);
    }

    [Fact]
    public async Task Versions_are_unique_ignoring_build_metadata()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "meta", "1.0.0+a");
        var before = await h.IndexTextAsync("meta");

        foreach (var version in new[] { "1.0.0+b", "1.0.0" })
        {
            var crate = CrateGraph.BuildCrate("meta", version);
            var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crate), crate.CrateBytes), Ct);
            Assert.Equal(400, result.Error?.Status);
            Assert.StartsWith($"crate version `{version}` is already uploaded (as `1.0.0+a`", result.Error?.Detail);
        }

        Assert.Equal(before, await h.IndexTextAsync("meta"));
        await h.PublishAsync("alice", "meta", "1.0.1+a");
    }

    [Fact]
    public async Task Republishing_a_version_is_refused_and_changes_nothing()
    {
        using var h = new RegistryHarness();
        var crate = await h.PublishAsync("alice", "again", "1.0.0");
        var keys = await h.PrivateKeysAsync();
        var index = await h.IndexTextAsync("again");
        var meta = await h.Store.ReadSmallOrNullAsync("private/meta/again.json", Ct);

        h.Clock.Advance(TimeSpan.FromHours(1));
        var different = CrateGraph.BuildCrate("again", "1.0.0", paddingBytes: 100);
        foreach (var bytes in new[] { crate.CrateBytes, different.CrateBytes })
        {
            var result = await h.NewNode().PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crate), bytes), Ct);
            Assert.Equal(new RegistryError(400, "crate version `1.0.0` is already uploaded"), result.Error);
        }

        Assert.Equal(keys, await h.PrivateKeysAsync());
        Assert.Equal(index, await h.IndexTextAsync("again"));
        Assert.Equal(meta?.Content, (await h.Store.ReadSmallOrNullAsync("private/meta/again.json", Ct))?.Content);
    }

    [Fact]
    public async Task Lookups_of_unknown_crates_and_versions_are_not_found()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "known", "1.0.0+b7");

        Assert.Null(await h.Registry.GetIndexFileAsync(CrateName.Parse("unknown"), Ct));
        Assert.Null(await h.Registry.GetIndexFileAsync(CrateName.Parse("kno"), Ct));
        await using var unknownCrate = await h.Registry.OpenCrateFileAsync(CrateName.Parse("unknown"), "1.0.0", Ct);
        Assert.Equal(CrateFileLookupStatus.NotFound, unknownCrate.Status);
        foreach (var version in new[] { "1.0.0", "1.0.0+b8", "2.0.0", "../../x", "" })
        {
            await using var lookup = await h.Registry.OpenCrateFileAsync(CrateName.Parse("known"), version, Ct);
            Assert.Equal(CrateFileLookupStatus.NotFound, lookup.Status);
            Assert.Null(lookup.File);
        }

        await using var found = await h.Registry.OpenCrateFileAsync(CrateName.Parse("known"), "1.0.0+b7", Ct);
        Assert.True(found.Found);
        Assert.False(await h.Registry.IsPrivateCrateAsync("unknown", Ct));
        Assert.False(await h.Registry.IsPrivateCrateAsync("not a name", Ct));
    }

    [Fact]
    public async Task A_changed_index_file_gets_a_new_etag_and_new_bytes_on_a_node_that_cached_the_old_one()
    {
        using var h = new RegistryHarness();
        var reader = h.NewNode();
        await h.PublishAsync("alice", "cached", "1.0.0");
        var first = await reader.GetIndexFileAsync(CrateName.Parse("cached"), Ct);
        Assert.Same(first, await reader.GetIndexFileAsync(CrateName.Parse("cached"), Ct));

        await h.PublishAsync("alice", "cached", "1.1.0");
        var second = await reader.GetIndexFileAsync(CrateName.Parse("cached"), Ct);

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.NotEqual(first.ETag, second.ETag);
        Assert.Equal(2, Encoding.UTF8.GetString(second.Content.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Private_names_are_cached_briefly_and_known_at_once_on_the_publishing_node()
    {
        using var h = new RegistryHarness();
        var mirrorNode = h.NewNode();
        Assert.False(await mirrorNode.IsPrivateCrateAsync("shadowed_name", Ct));

        await h.PublishAsync("alice", "shadowed-name", "1.0.0");

        Assert.True(await h.Registry.IsPrivateCrateAsync("shadowed_name", Ct));
        Assert.False(await mirrorNode.IsPrivateCrateAsync("shadowed_name", Ct)); // still within its 5 s
        h.Clock.Advance(h.Options.PrivateNameCacheTtl + TimeSpan.FromMilliseconds(1));
        Assert.True(await mirrorNode.IsPrivateCrateAsync("Shadowed-Name", Ct));
    }

    [Fact]
    public async Task Dependencies_on_this_registry_must_name_crates_it_has()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("needs-dep", "1.0.0");
        var json = PublishBody.NewCrateJson(crate);
        json["deps"] = JsonNode.Parse("""[{"optional":false,"default_features":true,"name":"missing-dep","features":[],"version_req":"^1","target":null,"kind":"normal"}]""");

        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(json, crate.CrateBytes), Ct);
        Assert.Equal(new RegistryError(400, "no known crate named `missing-dep` in this registry (a dependency of `needs-dep`)"), result.Error);
        Assert.Empty(await h.PrivateKeysAsync());

        await h.PublishAsync("bob", "missing_dep", "1.0.0");
        var again = await h.Registry.PublishAsync("alice", PublishBody.Stream(json, crate.CrateBytes), Ct);
        Assert.True(again.Succeeded, again.Error?.ToString());
    }

    [Fact]
    public async Task Invalid_categories_are_dropped_with_a_warning()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("categorized", "1.0.0");
        var json = PublishBody.NewCrateJson(crate);
        json["categories"] = new JsonArray("development-tools::testing", "Not A Slug");

        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(json, crate.CrateBytes), Ct);

        Assert.True(result.Succeeded, result.Error?.ToString());
        Assert.Equal(["Not A Slug"], result.Published.Warnings.InvalidCategories);
        Assert.Equal(
            """{"invalid_categories":["Not A Slug"],"invalid_badges":[],"other":[]}""",
            JsonSerializer.Serialize(result.Published.Warnings));
    }
}
