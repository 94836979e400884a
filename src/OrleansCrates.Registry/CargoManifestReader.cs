using OrleansCrates.Protocol;
using Tomlyn.Model;

namespace OrleansCrates.Registry;

/// <summary>
/// Reads <c>package.name</c> and <c>package.version</c> (or the legacy <c>[project]</c>'s) from a packaged
/// Cargo.toml, through <see cref="BoundedToml"/>: the whole document must be valid TOML within the size and nesting
/// bounds, so text inside strings, arrays or other tables can never be taken for the package's keys.
/// </summary>
internal static class CargoManifestReader
{
    /// <summary>The <c>[package]</c> (or legacy <c>[project]</c>) name and version, or why they could not be read.</summary>
    public static (string? Name, string? Version, string? Error) Read(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var document = BoundedToml.Parse(text.StartsWith('\uFEFF') ? text[1..] : text, CrateTarball.MaxManifestBytes);
        if (document.Error is not null)
        {
            return (null, null, document.Error);
        }

        var table = document.Table!;
        var package = (table.TryGetValue("package", out var p) ? p : table.TryGetValue("project", out var legacy) ? legacy : null) as TomlTable;
        if (package is null)
        {
            return (null, null, null);
        }

        var (name, nameError) = Field(package, "name");
        var (version, versionError) = Field(package, "version");
        return (nameError ?? versionError) is { } error ? (null, null, error) : (name, version, null);
    }

    /// <summary>A string, or nothing when absent or inherited from a workspace (<c>name.workspace = true</c>).</summary>
    private static (string? Value, string? Error) Field(TomlTable package, string key) =>
        !package.TryGetValue(key, out var value) || value is TomlTable ? (null, null)
        : value is string text ? (text, null)
        : (null, $"`package.{key}` is not a string");
}
