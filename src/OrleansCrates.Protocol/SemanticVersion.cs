using System.Globalization;

namespace OrleansCrates.Protocol;

/// <summary>
/// A parsed semantic version (SemVer 2.0.0) for matching and ordering: major, minor, patch and pre-release; build
/// metadata is dropped, since cargo treats versions that differ only in it as the same version.
/// </summary>
public readonly record struct SemanticVersion(ulong Major, ulong Minor, ulong Patch, string Pre) : IComparable<SemanticVersion>
{
    public bool IsPrerelease => Pre.Length > 0;

    public static bool TryParse(string? text, out SemanticVersion version)
    {
        version = default;
        if (text is null || !CrateVersion.IsValid(text))
        {
            return false;
        }

        var core = CrateVersion.WithoutBuildMetadata(text);
        var dash = core.IndexOf('-', StringComparison.Ordinal);
        var pre = dash < 0 ? "" : core[(dash + 1)..];
        var numbers = (dash < 0 ? core : core[..dash]).Split('.');
        if (!ulong.TryParse(numbers[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major) ||
            !ulong.TryParse(numbers[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor) ||
            !ulong.TryParse(numbers[2], NumberStyles.None, CultureInfo.InvariantCulture, out var patch))
        {
            return false; // beyond 64 bits, as cargo refuses too
        }

        version = new SemanticVersion(major, minor, patch, pre);
        return true;
    }

    public int CompareTo(SemanticVersion other)
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

        return c != 0 ? c : ComparePrerelease(Pre, other.Pre);
    }

    public static bool operator <(SemanticVersion left, SemanticVersion right) => left.CompareTo(right) < 0;

    public static bool operator >(SemanticVersion left, SemanticVersion right) => left.CompareTo(right) > 0;

    public static bool operator <=(SemanticVersion left, SemanticVersion right) => left.CompareTo(right) <= 0;

    public static bool operator >=(SemanticVersion left, SemanticVersion right) => left.CompareTo(right) >= 0;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}{(Pre.Length > 0 ? "-" + Pre : "")}");

    /// <summary>SemVer precedence of pre-releases; no pre-release ranks above any pre-release.</summary>
    public static int ComparePrerelease(string left, string right)
    {
        if (left.Length == 0 || right.Length == 0)
        {
            return left.Length == 0 ? (right.Length == 0 ? 0 : 1) : -1;
        }

        var a = left.Split('.');
        var b = right.Split('.');
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            var numericA = IsNumeric(a[i]);
            var numericB = IsNumeric(b[i]);
            var c = (numericA, numericB) switch
            {
                (true, true) => CompareDigits(a[i], b[i]),
                (true, false) => -1,
                (false, true) => 1,
                _ => Math.Sign(string.CompareOrdinal(a[i], b[i])),
            };
            if (c != 0)
            {
                return c;
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    /// <summary>
    /// SemVer precedence of version strings that pass <see cref="CrateVersion.IsValid"/>, build metadata ignored. Numbers
    /// are compared as digit strings, so versions beyond 64 bits (which <see cref="TryParse"/> refuses) still order.
    /// </summary>
    public static IComparer<string> Precedence { get; } = Comparer<string>.Create(CompareStrings);

    /// <summary>True when the two versions are the same to cargo (equal once build metadata is dropped).</summary>
    public static bool SameVersion(string x, string y) =>
        string.Equals(CrateVersion.WithoutBuildMetadata(x), CrateVersion.WithoutBuildMetadata(y), StringComparison.Ordinal);

    private static int CompareStrings(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null || y is null)
        {
            return x is null ? -1 : 1;
        }

        var (coreX, preX) = SplitPrerelease(x);
        var (coreY, preY) = SplitPrerelease(y);
        var partsX = coreX.Split('.');
        var partsY = coreY.Split('.');
        for (var i = 0; i < Math.Min(3, Math.Min(partsX.Length, partsY.Length)); i++)
        {
            var c = CompareDigits(partsX[i], partsY[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return ComparePrerelease(preX, preY);
    }

    private static (string Core, string Pre) SplitPrerelease(string version)
    {
        var withoutBuild = CrateVersion.WithoutBuildMetadata(version);
        var dash = withoutBuild.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? (withoutBuild, "") : (withoutBuild[..dash], withoutBuild[(dash + 1)..]);
    }

    private static bool IsNumeric(string identifier) => identifier.Length > 0 && identifier.All(char.IsAsciiDigit);

    // Digit strings: without leading zeros (the grammar forbids them), longer is larger, else compare digit by digit.
    private static int CompareDigits(string x, string y)
    {
        x = x.TrimStart('0');
        y = y.TrimStart('0');
        return x.Length != y.Length ? x.Length.CompareTo(y.Length) : Math.Sign(string.CompareOrdinal(x, y));
    }
}
