using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

/// <summary>
/// Where the private registry keeps things in the shared object store (all under <c>private/</c>, apart from the
/// mirror's <c>index/</c> and <c>crates/</c>):
/// <list type="bullet">
/// <item><c>private/index/{IndexPath}</c>: the sparse index file cargo reads, JSON lines each ending in '\n'.</item>
/// <item><c>private/crates/{IndexPath}/{lowername}-{version}-{sha256}.crate</c>: crate files, create-only and
/// content-addressed, so racing publishes never overwrite each other; the index decides which one is the version.</item>
/// <item><c>private/meta/{canonical}.json</c>: first spelling, owners, description, max_version, created/updated.</item>
/// </list>
/// </summary>
public static class RegistryKeys
{
    public const string Root = "private/";
    public const string IndexPrefix = "private/index/";
    public const string CratePrefix = "private/crates/";
    public const string MetaPrefix = "private/meta/";
    private const string MetaSuffix = ".json";

    public static string Index(CrateName name) => IndexPrefix + name.IndexPath;

    public static string CrateFile(CrateName name, string version, string sha256) =>
        $"{CratePrefix}{name.IndexPath}/{name.Lower}-{version}-{sha256}.crate";

    public static string Meta(CrateName name) => MetaPrefix + name.Canonical + MetaSuffix;

    /// <summary>The canonical name a meta key is for, or null when the key is not a meta key.</summary>
    internal static string? CanonicalFromMetaKey(string key) =>
        key.StartsWith(MetaPrefix, StringComparison.Ordinal) && key.EndsWith(MetaSuffix, StringComparison.Ordinal) && key.Length > MetaPrefix.Length + MetaSuffix.Length
            ? key[MetaPrefix.Length..^MetaSuffix.Length]
            : null;
}
