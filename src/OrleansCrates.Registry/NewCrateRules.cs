using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

/// <summary>A publish request that passed every rule that needs no storage: ready to become an index line.</summary>
internal sealed record ValidatedCrate(
    CrateName Name,
    string Version,
    NewCrate Request,
    IReadOnlyList<NewCrateDependency> Dependencies,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Features,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Features2,
    IReadOnlyList<string> Keywords,
    IReadOnlyList<string> Categories,
    PublishWarnings Warnings);

/// <summary>crates.io's publish rules, applied to the <c>NewCrate</c> JSON.</summary>
internal static partial class NewCrateRules
{
    public const int MaxKeywords = 5;
    public const int MaxKeywordLength = 20;
    public const int MaxCategories = 5;
    public const int MaxFeatures = 300;

    /// <summary>
    /// Names that cannot be published, in canonical form (lower case, '-' as '_'): crates.io's reserved list (the
    /// standard library and old compiler crates), the sysroot's internal crates, the names cargo refuses for packages
    /// because they clash with its target-directory layout, and Windows device names.
    /// </summary>
    public static readonly FrozenSet<string> ReservedNames = BuildReservedNames();

    public static bool IsReserved(CrateName name) => ReservedNames.Contains(name.Canonical);

    /// <summary>Why <paramref name="name"/> is not a valid crate name, or null when it is.</summary>
    public static string? NameProblem(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "missing or empty crate name";
        }

        if (name.Length > CrateName.MaxLength)
        {
            return $"the name `{Shorten(name)}` is too long ({name.Length} characters; at most {CrateName.MaxLength} are allowed)";
        }

        if (!char.IsAsciiLetter(name[0]))
        {
            return $"invalid character `{name[0]}` in crate name: `{name}`, the first character must be an ASCII letter";
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return $"invalid character `{c}` in crate name: `{name}`, characters must be ASCII alphanumeric, `-` or `_`";
            }
        }

        return null;
    }

    public static bool TryParse(ReadOnlySpan<byte> json, out NewCrate? request, out RegistryError? error)
    {
        request = null;
        error = null;
        try
        {
            request = JsonSerializer.Deserialize(json, RegistryJsonContext.Default.NewCrate);
        }
        catch (JsonException e)
        {
            error = RegistryError.BadRequest($"invalid upload request: the metadata is not valid JSON for a crate upload ({e.Message})");
            return false;
        }

        if (request is null)
        {
            error = RegistryError.BadRequest("invalid upload request: the metadata is `null`, expected an object");
            return false;
        }

        return true;
    }

    /// <summary>Checks everything about the request that needs no storage.</summary>
    public static RegistryError? Validate(NewCrate request, out ValidatedCrate? crate)
    {
        crate = null;
        if (NameProblem(request.Name) is { } nameProblem)
        {
            return RegistryError.BadRequest(nameProblem);
        }

        var name = CrateName.Parse(request.Name!);
        if (IsReserved(name))
        {
            return RegistryError.BadRequest($"cannot upload a crate with a reserved name: `{name}`");
        }

        if (string.IsNullOrEmpty(request.Vers))
        {
            return RegistryError.BadRequest("missing or empty version");
        }

        if (!CrateVersion.IsValid(request.Vers))
        {
            return RegistryError.BadRequest($"invalid version `{Shorten(request.Vers)}` (expected a semantic version such as 1.2.3)");
        }

        var dependencies = new List<NewCrateDependency>();
        foreach (var dep in request.Deps ?? [])
        {
            if (ValidateDependency(dep) is { } depError)
            {
                return depError;
            }

            dependencies.Add(dep!);
        }

        if (SplitFeatures(request.Features, out var features, out var features2) is { } featureError)
        {
            return featureError;
        }

        var keywords = new List<string>();
        if (request.Keywords is { Count: > MaxKeywords })
        {
            return RegistryError.BadRequest($"expected at most {MaxKeywords} keywords per crate");
        }

        foreach (var keyword in request.Keywords ?? [])
        {
            if (string.IsNullOrEmpty(keyword) || keyword.Length > MaxKeywordLength || !Keyword().IsMatch(keyword))
            {
                return RegistryError.BadRequest(
                    $"\"{Shorten(keyword ?? "null")}\" is an invalid keyword (keywords must have at most {MaxKeywordLength} characters, " +
                    "begin with an ASCII letter or digit, and contain only ASCII letters, digits, `_`, `-` or `+`)");
            }

            keywords.Add(keyword);
        }

        if (request.Categories is { Count: > MaxCategories })
        {
            return RegistryError.BadRequest($"expected at most {MaxCategories} categories per crate");
        }

        var categories = new List<string>();
        var invalidCategories = new List<string>();
        foreach (var category in request.Categories ?? [])
        {
            if (category is not null && Category().IsMatch(category))
            {
                categories.Add(category);
            }
            else
            {
                invalidCategories.Add(category ?? "null");
            }
        }

        if (request.Links is { } links && (links.Length == 0 || links.Any(char.IsControl)))
        {
            return RegistryError.BadRequest("invalid `links` value: it must be a non-empty name");
        }

        if (request.RustVersion is { } rustVersion && !RustVersion().IsMatch(rustVersion))
        {
            return RegistryError.BadRequest($"invalid `rust_version` `{Shorten(rustVersion)}` (expected a version such as 1.70 or 1.70.0)");
        }

        var warnings = invalidCategories.Count == 0 ? PublishWarnings.None : new PublishWarnings(invalidCategories, [], []);
        crate = new ValidatedCrate(name, request.Vers, request, dependencies, features, features2, keywords, categories, warnings);
        return null;
    }

    private static RegistryError? ValidateDependency(NewCrateDependency? dep)
    {
        if (dep is null)
        {
            return RegistryError.BadRequest("invalid upload request: a dependency is `null`");
        }

        if (NameProblem(dep.Name) is { } problem)
        {
            return RegistryError.BadRequest($"invalid dependency name: {problem}");
        }

        if (dep.ExplicitNameInToml is { } alias && !IsDependencyName(alias))
        {
            return RegistryError.BadRequest(
                $"invalid dependency name `{Shorten(alias)}` (renamed from `{dep.Name}`): it must start with an ASCII letter or `_` " +
                $"and contain only ASCII alphanumerics, `-` or `_` (at most {CrateName.MaxLength} characters)");
        }

        if (!VersionReq.TryParse(dep.VersionReq, out _))
        {
            return RegistryError.BadRequest($"invalid version requirement `{Shorten(dep.VersionReq ?? "")}` for dependency `{dep.Name}`");
        }

        if (dep.Kind is not (null or "normal" or "build" or "dev"))
        {
            return RegistryError.BadRequest($"invalid kind `{Shorten(dep.Kind)}` for dependency `{dep.Name}` (expected normal, build or dev)");
        }

        if (dep.Target is { Length: 0 })
        {
            return RegistryError.BadRequest($"empty target for dependency `{dep.Name}`");
        }

        if (dep.Registry is { Length: 0 })
        {
            return RegistryError.BadRequest($"empty registry for dependency `{dep.Name}`");
        }

        if ((dep.Target ?? "").Any(char.IsControl) || (dep.Registry ?? "").Any(char.IsControl))
        {
            return RegistryError.BadRequest($"control characters in the target or registry of dependency `{dep.Name}`");
        }

        foreach (var feature in dep.Features ?? [])
        {
            if (string.IsNullOrEmpty(feature) || !IsFeatureValue(feature))
            {
                return RegistryError.BadRequest($"invalid feature `{Shorten(feature ?? "null")}` enabled on dependency `{dep.Name}`");
            }
        }

        return null;
    }

    /// <summary>
    /// Checks the features and splits them as crates.io does: features using the newer syntax (<c>dep:x</c>,
    /// <c>x?/f</c>) go to <c>features2</c>, so older cargo versions that cannot read them skip only that part.
    /// </summary>
    private static RegistryError? SplitFeatures(
        Dictionary<string, List<string?>?>? source,
        out IReadOnlyDictionary<string, IReadOnlyList<string>> features,
        out IReadOnlyDictionary<string, IReadOnlyList<string>> features2)
    {
        var plain = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var newer = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        features = plain;
        features2 = newer;
        if (source is null)
        {
            return null;
        }

        if (source.Count > MaxFeatures)
        {
            return RegistryError.BadRequest($"crates may have at most {MaxFeatures} features");
        }

        foreach (var (feature, values) in source)
        {
            if (!IsFeatureName(feature))
            {
                return RegistryError.BadRequest(
                    $"invalid feature name `{Shorten(feature)}` (feature names must start with a letter, digit or `_` and contain only letters, digits, `_`, `-`, `+` or `.`)");
            }

            var list = new List<string>();
            var usesNewSyntax = false;
            foreach (var value in values ?? [])
            {
                if (string.IsNullOrEmpty(value) || !IsFeatureValue(value))
                {
                    return RegistryError.BadRequest($"invalid value `{Shorten(value ?? "null")}` in feature `{feature}`");
                }

                usesNewSyntax |= value.StartsWith("dep:", StringComparison.Ordinal) || value.Contains("?/", StringComparison.Ordinal);
                list.Add(value);
            }

            (usesNewSyntax ? newer : plain)[feature] = list;
        }

        return null;
    }

    /// <summary>A dependency's name in the dependent's Cargo.toml: like a crate name, but may also start with '_'.</summary>
    internal static bool IsDependencyName(string name) =>
        name.Length is > 0 and <= CrateName.MaxLength
        && (char.IsAsciiLetter(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    internal static bool IsFeatureName(string name) =>
        name.Length > 0
        && (char.IsLetterOrDigit(name[0]) || name[0] == '_')
        && name.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '+' or '.');

    /// <summary>A feature's value: <c>feature</c>, <c>dep:name</c>, <c>name/feature</c> or <c>name?/feature</c>.</summary>
    internal static bool IsFeatureValue(string value)
    {
        if (value.StartsWith("dep:", StringComparison.Ordinal))
        {
            return IsDependencyName(value[4..]);
        }

        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return IsFeatureName(value);
        }

        var dependency = value[..slash];
        if (dependency.EndsWith('?'))
        {
            dependency = dependency[..^1];
        }

        return IsDependencyName(dependency) && IsFeatureName(value[(slash + 1)..]);
    }

    private static string Shorten(string value) => value.Length <= 100 ? value : value[..100] + "…";

    private static FrozenSet<string> BuildReservedNames()
    {
        string[] names =
        [
            // The standard library and the sysroot's internal crates.
            "std", "core", "alloc", "proc_macro", "test", "rustc", "rustdoc", "compiler_builtins", "panic_abort",
            "panic_unwind", "unwind", "profiler_builtins", "std_detect", "sysroot", "rustc_std_workspace_core",
            "rustc_std_workspace_alloc", "rustc_std_workspace_std",

            // crates.io's reserved list (old compiler and library crates).
            "arena", "ast", "builtins", "collections", "compiler_rt", "compiletest", "coretest", "debug", "driver",
            "flate", "fmt_macros", "grammar", "graphviz", "macro", "macros", "rbml", "rustc_main", "rustc_back",
            "rustc_bitflags", "rustc_borrowck", "rustc_data_structures", "rustc_driver", "rustc_front", "rustc_lint",
            "rustc_llvm", "rustc_metadata", "rustc_mir", "rustc_platform_intrinsics", "rustc_plugin", "rustc_privacy",
            "rustc_resolve", "rustc_trans", "rustc_typeck", "rustllvm", "rustuv", "serialize", "std_shim", "syntax",
            "test_shim", "uv",

            // Cargo refuses these package names: they clash with folders of its target directory.
            "build", "deps", "examples", "incremental",

            // Windows device names.
            "nul", "con", "prn", "aux",
        ];
        var all = new List<string>(names);
        for (var i = 0; i <= 9; i++)
        {
            all.Add($"com{i}");
            all.Add($"lpt{i}");
        }

        return all.ToFrozenSet(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9_+-]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Keyword();

    // Category slugs as crates.io spells them: "development-tools", "development-tools::testing".
    [GeneratedRegex(@"\A[a-z0-9][a-z0-9-]*(::[a-z0-9][a-z0-9-]*)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Category();

    [GeneratedRegex(@"\A(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex RustVersion();
}
