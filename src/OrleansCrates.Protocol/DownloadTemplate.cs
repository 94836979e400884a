namespace OrleansCrates.Protocol;

/// <summary>Expands a registry's <c>dl</c> setting into the URL of one crate file, exactly as cargo does.</summary>
public static class DownloadTemplate
{
    private static readonly string[] Markers = ["{crate}", "{version}", "{prefix}", "{lowerprefix}", "{sha256-checksum}"];

    /// <param name="dl">The <c>dl</c> value from config.json.</param>
    /// <param name="name">The crate name as the index line spells it.</param>
    /// <param name="version">The version as the index line spells it (build metadata raw, '+' not encoded).</param>
    /// <param name="checksum">The index line's <c>cksum</c>.</param>
    public static string Expand(string dl, CrateName name, string version, string checksum)
    {
        if (!Markers.Any(m => dl.Contains(m, StringComparison.Ordinal)))
        {
            return $"{dl}/{name.Value}/{version}/download";
        }

        var prefix = name.DownloadPrefix;
        return dl
            .Replace("{crate}", name.Value, StringComparison.Ordinal)
            .Replace("{version}", version, StringComparison.Ordinal)
            .Replace("{prefix}", prefix, StringComparison.Ordinal)
            .Replace("{lowerprefix}", prefix.ToLowerInvariant(), StringComparison.Ordinal)
            .Replace("{sha256-checksum}", checksum, StringComparison.Ordinal);
    }
}
