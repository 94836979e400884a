using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

/// <summary>SemVer 2.0.0 precedence for versions that pass <see cref="CrateVersion.IsValid"/>; build metadata is ignored.</summary>
internal sealed class SemVerPrecedence : IComparer<string>
{
    public static readonly SemVerPrecedence Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        var (coreX, preX) = Split(x);
        var (coreY, preY) = Split(y);
        var partsX = coreX.Split('.');
        var partsY = coreY.Split('.');
        for (var i = 0; i < 3; i++)
        {
            var c = CompareNumeric(partsX[i], partsY[i]);
            if (c != 0)
            {
                return c;
            }
        }

        // A version without a pre-release outranks the same version with one.
        if (preX is null || preY is null)
        {
            return preX is null ? (preY is null ? 0 : 1) : -1;
        }

        var idsX = preX.Split('.');
        var idsY = preY.Split('.');
        for (var i = 0; i < Math.Min(idsX.Length, idsY.Length); i++)
        {
            var numericX = IsNumeric(idsX[i]);
            var numericY = IsNumeric(idsY[i]);
            var c = (numericX, numericY) switch
            {
                (true, true) => CompareNumeric(idsX[i], idsY[i]),
                (true, false) => -1,
                (false, true) => 1,
                _ => string.CompareOrdinal(idsX[i], idsY[i]),
            };
            if (c != 0)
            {
                return Math.Sign(c);
            }
        }

        return idsX.Length.CompareTo(idsY.Length);
    }

    /// <summary>True when the two versions are the same to cargo (equal once build metadata is dropped).</summary>
    public static bool SameVersion(string x, string y) =>
        string.Equals(CrateVersion.WithoutBuildMetadata(x), CrateVersion.WithoutBuildMetadata(y), StringComparison.Ordinal);

    private static (string Core, string? PreRelease) Split(string version)
    {
        var withoutBuild = CrateVersion.WithoutBuildMetadata(version);
        var dash = withoutBuild.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? (withoutBuild, null) : (withoutBuild[..dash], withoutBuild[(dash + 1)..]);
    }

    private static bool IsNumeric(string identifier)
    {
        foreach (var c in identifier)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return identifier.Length > 0;
    }

    // Digit strings without leading zeros (the version grammar guarantees it): longer is larger, else compare by digit.
    private static int CompareNumeric(string x, string y)
    {
        x = x.TrimStart('0');
        y = y.TrimStart('0');
        return x.Length != y.Length ? x.Length.CompareTo(y.Length) : Math.Sign(string.CompareOrdinal(x, y));
    }
}
