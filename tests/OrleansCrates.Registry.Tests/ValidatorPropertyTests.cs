using System.Text.Json.Nodes;
using CsCheck;
using static OrleansCrates.Testing.Properties.Generators;
using OrleansCrates.Protocol;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// Property tests for every validated field of a publish: a valid value with a control character (a trailing newline
/// above all: .NET's <c>$</c> matches before one) anywhere in it is refused, whichever field it is in.
/// </summary>
public sealed class ValidatorPropertyTests
{
    private static readonly Gen<char> Control = Gen.OneOf(Gen.Char[(char)0, (char)31], Gen.Const('\u007f'));

    private static readonly Gen<string> Requirement = Gen.Select(
        OneOf("", "=", ">=", ">", "<=", "<", "~", "^"), Gen.Int[0, 50], Gen.Int[0, 50], Gen.Int[0, 50],
        (op, a, b, c) => $"{op}{a}.{b}.{c}");

    private static readonly Gen<string> Keyword = Gen.Select(Chars("a-z0-9"), Chars("a-z0-9_+-").Array[0, 19], (f, r) => f + new string(r));

    private static readonly Gen<string> Category = Chars("a-z").Array[1, 10].Select(a => new string(a)).Array[1, 3].Select(p => string.Join("::", p));

    private static readonly Gen<string> RustVersion = Gen.Select(Gen.Int[1, 2], Gen.Int[0, 99], (a, b) => $"{a}.{b}");

    private static readonly Gen<string> Feature = Gen.Select(Chars("a-z_"), Chars("a-z0-9_+.-").Array[0, 12], (f, r) => f + new string(r));

    private static string Insert(string value, char c, int at) => value.Insert(at % (value.Length + 1), c.ToString());

    [Fact]
    public void Version_requirements_are_valid_and_refused_with_a_control_character() =>
        Gen.Select(Requirement, Control, Gen.Int[0, 100]).Sample((req, c, at) =>
        {
            Assert.True(VersionReq.TryParse(req, out _), req);
            Assert.True(VersionReq.TryParse(req + ", <9", out _), req);
            Assert.False(VersionReq.TryParse(req + "\n", out _), req);
            Assert.False(VersionReq.TryParse(Insert(req, c, at), out _), Insert(req, c, at));
        });

    /// <summary>Each field of the NewCrate JSON a publish validates, with how to put a value in it.</summary>
    private static readonly (string Field, Gen<string> Valid, Action<JsonObject, string> Set)[] Fields =
    [
        ("name", IdentifierGen.CrateName, (j, v) => j["name"] = v),
        ("vers", IdentifierGen.Version, (j, v) => j["vers"] = v),
        ("keywords", Keyword, (j, v) => j["keywords"] = new JsonArray(v)),
        ("rust_version", RustVersion, (j, v) => j["rust_version"] = v),
        ("links", Keyword, (j, v) => j["links"] = v),
        ("features name", Feature, (j, v) => j["features"] = new JsonObject { [v] = new JsonArray() }),
        ("features value", Feature, (j, v) => j["features"] = new JsonObject { ["f"] = new JsonArray(v) }),
        ("deps name", IdentifierGen.CrateName, (j, v) => j["deps"] = new JsonArray(Dep(name: v))),
        ("deps version_req", Requirement, (j, v) => j["deps"] = new JsonArray(Dep(req: v))),
        ("deps explicit_name_in_toml", IdentifierGen.CrateName, (j, v) => j["deps"] = new JsonArray(Dep(alias: v))),
        ("deps features", Feature, (j, v) => j["deps"] = new JsonArray(Dep(feature: v))),
        ("deps target", Keyword.Select(k => $"cfg({k})"), (j, v) => j["deps"] = new JsonArray(Dep(target: v))),
        ("deps registry", Keyword.Select(k => $"https://{k}.example/index"), (j, v) => j["deps"] = new JsonArray(Dep(registry: v))),
    ];

    [Fact]
    public void Every_validated_field_accepts_valid_values_and_refuses_a_control_character()
    {
        foreach (var (field, valid, set) in Fields)
        {
            Gen.Select(valid, Control, Gen.Int[0, 100]).Sample((value, c, at) =>
            {
                Assert.True(Validate(set, value) is null, $"{field} = {value}: {Validate(set, value)}");
                Assert.False(Validate(set, value + "\n") is null, $"{field} = {value}\\n passed");
                var bad = Insert(value, c, at);
                Assert.False(Validate(set, bad) is null, $"{field} = {bad} passed");
            }, iter: 300);
        }
    }

    [Fact]
    public void Categories_with_a_control_character_become_warnings_never_stored_categories() =>
        Gen.Select(Category, Control, Gen.Int[0, 100]).Sample((category, c, at) =>
        {
            var json = Json();
            json["categories"] = new JsonArray(category, Insert(category, c, at));
            Assert.Null(NewCrateRules.Validate(Parse(json), out var crate));
            Assert.Equal([category], crate!.Categories);
        }, iter: 300);

    private static RegistryError? Validate(Action<JsonObject, string> set, string value)
    {
        var json = Json();
        set(json, value);
        return NewCrateRules.Validate(Parse(json), out _);
    }

    private static JsonObject Json() => PublishBody.NewCrateJson(CrateGraph.BuildCrate("props", "1.0.0"));

    private static NewCrate Parse(JsonObject json)
    {
        Assert.True(NewCrateRules.TryParse(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), out var request, out var error), error?.ToString());
        return request!;
    }

    private static JsonObject Dep(string name = "dep", string req = "^1", string? alias = null, string? feature = null, string? target = null, string? registry = "https://example.invalid/index")
    {
        var dep = new JsonObject
        {
            ["name"] = name,
            ["version_req"] = req,
            ["features"] = feature is null ? new JsonArray() : new JsonArray(feature),
            ["optional"] = false,
            ["default_features"] = true,
            ["target"] = target,
            ["kind"] = "normal",
            ["registry"] = registry,
        };
        if (alias is not null)
        {
            dep["explicit_name_in_toml"] = alias;
        }

        return dep;
    }
}

/// <summary>Generators of valid crate names and versions.</summary>
internal static class IdentifierGen
{
    public static readonly Gen<string> CrateName = Gen.Select(Chars("a-z"), Chars("a-z0-9_-").Array[2, 20], (f, r) => f + new string(r))
        .Where(n => !NewCrateRules.IsReserved(OrleansCrates.Protocol.CrateName.Parse(n)));

    public static readonly Gen<string> Version = Gen.Select(Gen.Int[0, 99], Gen.Int[0, 99], Gen.Int[0, 99], Gen.Bool,
        (a, b, c, pre) => pre ? $"{a}.{b}.{c}-rc.{a}" : $"{a}.{b}.{c}");
}
