using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Registry;

/// <summary>
/// The JSON part of cargo's publish body (crates-io's <c>NewCrate</c>). Every field is optional here; the rules that
/// make some required live in <see cref="NewCrateRules"/>, so a missing field is a clear 400, not a parse error.
/// </summary>
internal sealed class NewCrate
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("vers")]
    public string? Vers { get; set; }

    [JsonPropertyName("deps")]
    public List<NewCrateDependency?>? Deps { get; set; }

    [JsonPropertyName("features")]
    public Dictionary<string, List<string?>?>? Features { get; set; }

    [JsonPropertyName("authors")]
    public List<string?>? Authors { get; set; }

    [JsonPropertyName("description")]
    public string? Description { get; set; }

    [JsonPropertyName("documentation")]
    public string? Documentation { get; set; }

    [JsonPropertyName("homepage")]
    public string? Homepage { get; set; }

    [JsonPropertyName("readme")]
    public string? Readme { get; set; }

    [JsonPropertyName("readme_file")]
    public string? ReadmeFile { get; set; }

    [JsonPropertyName("keywords")]
    public List<string?>? Keywords { get; set; }

    [JsonPropertyName("categories")]
    public List<string?>? Categories { get; set; }

    [JsonPropertyName("license")]
    public string? License { get; set; }

    [JsonPropertyName("license_file")]
    public string? LicenseFile { get; set; }

    [JsonPropertyName("repository")]
    public string? Repository { get; set; }

    /// <summary>Arbitrary per-badge objects; accepted and ignored, as crates.io does today.</summary>
    [JsonPropertyName("badges")]
    public Dictionary<string, JsonElement>? Badges { get; set; }

    [JsonPropertyName("links")]
    public string? Links { get; set; }

    [JsonPropertyName("rust_version")]
    public string? RustVersion { get; set; }
}

/// <summary>One entry of <see cref="NewCrate.Deps"/> (crates-io's <c>NewCrateDependency</c>).</summary>
internal sealed class NewCrateDependency
{
    /// <summary>The real package name (the alias, if any, is <see cref="ExplicitNameInToml"/>).</summary>
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("version_req")]
    public string? VersionReq { get; set; }

    [JsonPropertyName("features")]
    public List<string?>? Features { get; set; }

    [JsonPropertyName("optional")]
    public bool Optional { get; set; }

    [JsonPropertyName("default_features")]
    public bool DefaultFeatures { get; set; } = true;

    [JsonPropertyName("target")]
    public string? Target { get; set; }

    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    /// <summary>Absent for the registry being published to; else the index URL of the dependency's registry.</summary>
    [JsonPropertyName("registry")]
    public string? Registry { get; set; }

    /// <summary>The name the dependent uses in its Cargo.toml when it renamed the dependency.</summary>
    [JsonPropertyName("explicit_name_in_toml")]
    public string? ExplicitNameInToml { get; set; }
}

/// <summary>What this registry keeps per crate under <c>private/meta/{canonical}.json</c>.</summary>
internal sealed class CrateMeta
{
    /// <summary>The first spelling; every later version must use exactly this one.</summary>
    public string Name { get; set; } = "";

    /// <summary>Owner logins, in the order they were added.</summary>
    public List<string> Owners { get; set; } = [];

    public string? Description { get; set; }

    /// <summary>The newest non-yanked version by semver precedence; "0.0.0" when all are yanked; null before the first version lands.</summary>
    public string? MaxVersion { get; set; }

    /// <summary>Number of versions in the index (yanked included).</summary>
    public int Versions { get; set; }

    public List<string>? Keywords { get; set; }

    public List<string>? Categories { get; set; }

    public string? License { get; set; }

    public string? Repository { get; set; }

    public string? Homepage { get; set; }

    public string? Documentation { get; set; }

    public DateTimeOffset Created { get; set; }

    public DateTimeOffset Updated { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(NewCrate))]
[JsonSerializable(typeof(CrateMeta))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
