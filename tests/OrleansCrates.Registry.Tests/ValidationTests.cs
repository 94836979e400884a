using System.Text;
using System.Text.Json.Nodes;
using OrleansCrates.Protocol;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>Every publish rule that needs no storage: 400 with a clear detail, and nothing stored.</summary>
public sealed class ValidationTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    public static TheoryData<string, string, string> BrokenMetadata => new()
    {
        // property path, JSON value, expected detail (start)
        { "name", "null", "missing or empty crate name" },
        { "name", "\"\"", "missing or empty crate name" },
        { "name", "\"1abc\"", "invalid character `1` in crate name: `1abc`, the first character must be an ASCII letter" },
        { "name", "\"-abc\"", "invalid character `-` in crate name: `-abc`, the first character must be an ASCII letter" },
        { "name", "\"_abc\"", "invalid character `_` in crate name: `_abc`, the first character must be an ASCII letter" },
        { "name", "\"a b\"", "invalid character ` ` in crate name: `a b`, characters must be ASCII alphanumeric, `-` or `_`" },
        { "name", "\"ab.c\"", "invalid character `.` in crate name: `ab.c`" },
        { "name", "\"über\"", "invalid character `ü` in crate name" },
        { "name", "\"" + new string('a', 65) + "\"", "the name `" + new string('a', 65) + "` is too long (65 characters; at most 64 are allowed)" },
        { "name", "42", "invalid upload request: the metadata is not valid JSON for a crate upload" },
        { "vers", "null", "missing or empty version" },
        { "vers", "\"1.0\"", "invalid version `1.0` (expected a semantic version such as 1.2.3)" },
        { "vers", "\"01.0.0\"", "invalid version `01.0.0`" },
        { "vers", "\"1.0.0-\"", "invalid version `1.0.0-`" },
        { "vers", "\"1.0.0+\"", "invalid version `1.0.0+`" },
        { "deps", "[null]", "invalid upload request: a dependency is `null`" },
        { "deps", """[{"name":"1dep","version_req":"^1","kind":"normal"}]""", "invalid dependency name: invalid character `1` in crate name: `1dep`" },
        { "deps", """[{"name":"dep","version_req":"not a req","kind":"normal"}]""", "invalid version requirement `not a req` for dependency `dep`" },
        { "deps", """[{"name":"dep","version_req":"","kind":"normal"}]""", "invalid version requirement `` for dependency `dep`" },
        { "deps", """[{"name":"dep","version_req":"^1","kind":"weird"}]""", "invalid kind `weird` for dependency `dep` (expected normal, build or dev)" },
        { "deps", """[{"name":"dep","version_req":"^1","kind":"normal","explicit_name_in_toml":"9alias"}]""", "invalid dependency name `9alias` (renamed from `dep`)" },
        { "deps", """[{"name":"dep","version_req":"^1","kind":"normal","features":["bad feature"]}]""", "invalid feature `bad feature` enabled on dependency `dep`" },
        { "deps", """[{"name":"dep","version_req":"^1","kind":"normal","registry":""}]""", "empty registry for dependency `dep`" },
        { "features", """{"bad name!":[]}""", "invalid feature name `bad name!`" },
        { "features", """{"good":["dep:"]}""", "invalid value `dep:` in feature `good`" },
        { "features", """{"good":["a/b/c"]}""", "invalid value `a/b/c` in feature `good`" },
        { "features", """{"good":[null]}""", "invalid value `null` in feature `good`" },
        { "keywords", """["a","b","c","d","e","f"]""", "expected at most 5 keywords per crate" },
        { "keywords", """["has space"]""", "\"has space\" is an invalid keyword" },
        { "keywords", """["abcdefghijklmnopqrstu"]""", "\"abcdefghijklmnopqrstu\" is an invalid keyword" },
        { "categories", """["a","b","c","d","e","f"]""", "expected at most 5 categories per crate" },
        { "rust_version", "\"1.70-nightly\"", "invalid `rust_version` `1.70-nightly`" },
        { "links", "\"\"", "invalid `links` value: it must be a non-empty name" },
    };

    [Theory]
    [MemberData(nameof(BrokenMetadata))]
    public async Task Broken_metadata_is_refused_with_400_and_a_clear_detail(string property, string value, string detail)
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("valid-name", "1.0.0");
        var json = PublishBody.NewCrateJson(crate);
        json[property] = JsonNode.Parse(value);

        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(json, crate.CrateBytes), Ct);

        Assert.Equal(400, result.Error?.Status);
        Assert.StartsWith(detail, result.Error?.Detail);
        Assert.Empty(await h.PrivateKeysAsync());
    }

    [Theory]
    [InlineData("std")]
    [InlineData("core")]
    [InlineData("alloc")]
    [InlineData("proc_macro")]
    [InlineData("proc-macro")]
    [InlineData("Proc-Macro")]
    [InlineData("test")]
    [InlineData("rustc")]
    [InlineData("compiler_builtins")]
    [InlineData("rustc-std-workspace-core")]
    [InlineData("build")]
    [InlineData("deps")]
    [InlineData("nul")]
    [InlineData("CON")]
    [InlineData("prn")]
    [InlineData("Aux")]
    [InlineData("com0")]
    [InlineData("com9")]
    [InlineData("LPT1")]
    [InlineData("lpt0")]
    public async Task Reserved_names_are_refused_whatever_their_spelling(string name)
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate(name, "1.0.0");

        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crate), crate.CrateBytes), Ct);

        Assert.Equal(new RegistryError(400, $"cannot upload a crate with a reserved name: `{name}`"), result.Error);
        Assert.Empty(await h.PrivateKeysAsync());
    }

    [Theory]
    [InlineData("stdx")]
    [InlineData("com10")]
    [InlineData("my-core")]
    [InlineData("tests")]
    public async Task Names_that_only_resemble_reserved_ones_are_fine(string name)
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", name, "0.1.0");
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("{\"name\":\"x\",")]
    public async Task Metadata_that_is_not_a_json_object_is_refused(string metadata)
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("x", "1.0.0");

        var result = await h.Registry.PublishAsync("alice", new MemoryStream(PublishBody.Build(Encoding.UTF8.GetBytes(metadata), crate.CrateBytes)), Ct);

        Assert.Equal(400, result.Error?.Status);
        Assert.StartsWith("invalid upload request: ", result.Error?.Detail);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("^1.2.3")]
    [InlineData("~1")]
    [InlineData(">= 1.2, < 2.0.0-alpha.1")]
    [InlineData("=1.0.0+build")]
    [InlineData("1.*")]
    [InlineData("0.x")]
    public void Cargo_version_requirements_are_accepted(string requirement) => Assert.True(VersionReq.TryParse(requirement, out _));

    [Theory]
    [InlineData(">>1")]
    [InlineData("1.0.0.0")]
    [InlineData("^")]
    [InlineData("1,")]
    [InlineData("latest")]
    public void Garbage_version_requirements_are_refused(string requirement) => Assert.False(VersionReq.TryParse(requirement, out _));

    [Fact]
    public void Semver_precedence_orders_as_the_spec_says()
    {
        string[] ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.9.0", "1.10.0", "2.0.0", "10.0.0", "18446744073709551616.0.0"];
        var shuffled = ordered.Reverse().ToList();
        shuffled.Sort(SemanticVersion.Precedence);
        Assert.Equal(ordered, shuffled);
        Assert.Equal(0, SemanticVersion.Precedence.Compare("1.0.0+a", "1.0.0+b"));
    }
}
