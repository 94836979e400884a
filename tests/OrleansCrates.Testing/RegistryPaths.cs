namespace OrleansCrates.Testing;

/// <summary>Cargo's path rules for sparse index files and the <c>{prefix}</c> download markers.</summary>
public static class RegistryPaths
{
    /// <summary>
    /// The prefix directories for a name, as cargo computes them (case kept): 1 char <c>1</c>, 2 chars <c>2</c>,
    /// 3 chars <c>3/{c0}</c>, else <c>{c0c1}/{c2c3}</c>.
    /// </summary>
    public static string Prefix(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return name.Length switch
        {
            1 => "1",
            2 => "2",
            3 => $"3/{name[..1]}",
            _ => $"{name[..2]}/{name[2..4]}",
        };
    }

    /// <summary>The index file path relative to the index root, e.g. <c>ca/rg/cargo</c> (always lowercase).</summary>
    public static string IndexPath(string name)
    {
        var lower = name.ToLowerInvariant();
        return $"{Prefix(lower)}/{lower}";
    }
}
