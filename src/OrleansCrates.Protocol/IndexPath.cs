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

        // The name is the last segment; the segments before it must be its index folders (compared without building them).
        var candidate = path[(path.LastIndexOf('/') + 1)..];
        if (!CrateName.TryParse(candidate, out var parsed) || !parsed.Value.IsIndexPath(path))
        {
            return false;
        }

        name = parsed;
        return true;
    }
}
