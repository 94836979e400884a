using System.Diagnostics.CodeAnalysis;

namespace OrleansCrates.Protocol;

/// <summary>Parses the path of a sparse index file (relative to the index root) back into a crate name.</summary>
public static class IndexPath
{
    /// <summary>
    /// Accepts <c>1/a</c>, <c>2/ab</c>, <c>3/a/abc</c> and <c>ab/cd/abcd...</c>, in any letter case, and only when the
    /// folders agree with the name. Anything else (other shapes, bad characters, traversal) is not an index path.
    /// </summary>
    public static bool TryParse(string? path, [NotNullWhen(true)] out CrateName? name)
    {
        name = null;
        if (string.IsNullOrEmpty(path) || path.Length > 80)
        {
            return false;
        }

        var parts = path.Split('/');
        var candidate = parts[^1];
        if (!CrateName.TryParse(candidate, out var parsed))
        {
            return false;
        }

        var expected = parsed.Value.IndexPath;
        if (!string.Equals(expected, path, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        name = parsed;
        return true;
    }
}
