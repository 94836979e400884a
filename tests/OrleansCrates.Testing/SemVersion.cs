using System.Globalization;

namespace OrleansCrates.Testing;

/// <summary>A minimal semver value: enough to order versions and group them the way cargo's caret rules do.</summary>
internal readonly record struct SemVersion(ulong Major, ulong Minor, ulong Patch, string Pre, string Build)
    : IComparable<SemVersion>
{
    public static SemVersion Parse(string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        var rest = text;
        var build = string.Empty;
        var plus = rest.IndexOf('+', StringComparison.Ordinal);
        if (plus >= 0)
        {
            build = rest[(plus + 1)..];
            rest = rest[..plus];
        }

        var pre = string.Empty;
        var dash = rest.IndexOf('-', StringComparison.Ordinal);
        if (dash >= 0)
        {
            pre = rest[(dash + 1)..];
            rest = rest[..dash];
        }

        var parts = rest.Split('.');
        if (parts.Length != 3)
        {
            throw new FormatException($"'{text}' is not a semver version (major.minor.patch).");
        }

        return new SemVersion(
            ulong.Parse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture),
            ulong.Parse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture),
            ulong.Parse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture),
            pre,
            build);
    }

    public bool IsPrerelease => Pre.Length > 0;

    /// <summary>The semver-compatibility group cargo uses (one version per group per graph): 1.x, 0.2.x, 0.0.3.</summary>
    public string CompatGroup => Major > 0 ? $"{Major}" : Minor > 0 ? $"0.{Minor}" : $"0.0.{Patch}";

    /// <summary>A caret requirement that matches every version in <see cref="CompatGroup"/>.</summary>
    public string CaretRequirement => Major > 0 ? $"^{Major}" : Minor > 0 ? $"^0.{Minor}" : $"=0.0.{Patch}";

    /// <summary>The version without build metadata (what cargo treats as the identity).</summary>
    public string WithoutBuild => Pre.Length > 0 ? $"{Major}.{Minor}.{Patch}-{Pre}" : $"{Major}.{Minor}.{Patch}";

    public int CompareTo(SemVersion other)
    {
        var c = Major.CompareTo(other.Major);
        if (c == 0)
        {
            c = Minor.CompareTo(other.Minor);
        }

        if (c == 0)
        {
            c = Patch.CompareTo(other.Patch);
        }

        if (c == 0)
        {
            c = ComparePre(Pre, other.Pre);
        }

        return c;
    }

    private static int ComparePre(string a, string b)
    {
        if (a.Length == 0 || b.Length == 0)
        {
            // A release sorts after any pre-release of the same triple.
            return b.Length.CompareTo(a.Length);
        }

        var ia = a.Split('.');
        var ib = b.Split('.');
        for (var i = 0; i < Math.Min(ia.Length, ib.Length); i++)
        {
            var na = ulong.TryParse(ia[i], NumberStyles.None, CultureInfo.InvariantCulture, out var va);
            var nb = ulong.TryParse(ib[i], NumberStyles.None, CultureInfo.InvariantCulture, out var vb);
            var c = (na, nb) switch
            {
                (true, true) => va.CompareTo(vb),
                (true, false) => -1,
                (false, true) => 1,
                _ => string.CompareOrdinal(ia[i], ib[i]),
            };
            if (c != 0)
            {
                return c;
            }
        }

        return ia.Length.CompareTo(ib.Length);
    }
}
