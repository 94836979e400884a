using System.Text.RegularExpressions;

namespace OrleansCrates.Protocol;

/// <summary>Semantic versions as cargo and crates.io accept them (SemVer 2.0.0, build metadata allowed).</summary>
public static partial class CrateVersion
{
    public const int MaxLength = 256;

    public static bool IsValid(string? version) =>
        !string.IsNullOrEmpty(version) && version.Length <= MaxLength && SemVer().IsMatch(version);

    /// <summary>The version without build metadata: versions that agree on it are the same version to cargo.</summary>
    public static string WithoutBuildMetadata(string version)
    {
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }

    [GeneratedRegex(
        @"\A(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?\z",
        RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture)]
    private static partial Regex SemVer();
}
