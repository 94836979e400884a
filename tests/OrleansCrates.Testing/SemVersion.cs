using OrleansCrates.Protocol;

namespace OrleansCrates.Testing;

/// <summary>
/// A version of a synthetic crate: Protocol's <see cref="SemanticVersion"/> (the one semver implementation) for
/// parsing and ordering, plus the grouping cargo's caret rules give.
/// </summary>
internal readonly record struct SemVersion(SemanticVersion Version) : IComparable<SemVersion>
{
    public static SemVersion Parse(string text) =>
        SemanticVersion.TryParse(text, out var parsed)
            ? new SemVersion(parsed)
            : throw new FormatException($"'{text}' is not a semver version (major.minor.patch).");

    public bool IsPrerelease => Version.IsPrerelease;

    /// <summary>The semver-compatibility group cargo uses (one version per group per graph): 1.x, 0.2.x, 0.0.3.</summary>
    public string CompatGroup => Version.Major > 0 ? $"{Version.Major}" : Version.Minor > 0 ? $"0.{Version.Minor}" : $"0.0.{Version.Patch}";

    /// <summary>A caret requirement that matches every version in <see cref="CompatGroup"/>.</summary>
    public string CaretRequirement => Version.Major > 0 ? $"^{Version.Major}" : Version.Minor > 0 ? $"^0.{Version.Minor}" : $"=0.0.{Version.Patch}";

    /// <summary>The version without build metadata (what cargo treats as the identity).</summary>
    public string WithoutBuild => Version.ToString();

    public int CompareTo(SemVersion other) => Version.CompareTo(other.Version);
}
