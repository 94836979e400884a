using System.Text.RegularExpressions;

namespace OrleansCrates.Registry;

/// <summary>Cargo's dependency version requirements (semver::VersionReq syntax), checked for shape only.</summary>
internal static partial class VersionRequirement
{
    public const int MaxLength = 512;

    public static bool IsValid(string? requirement)
    {
        if (string.IsNullOrWhiteSpace(requirement) || requirement.Length > MaxLength)
        {
            return false;
        }

        foreach (var part in requirement.Split(','))
        {
            if (!Comparator().IsMatch(part.Trim(' ')))
            {
                return false;
            }
        }

        return true;
    }

    // "*", or an optional operator followed by major[.minor[.patch[-pre][+build]]] where missing parts may be wildcards.
    [GeneratedRegex(
        @"\A(\*|(=|>=|>|<=|<|~|\^)? *(0|[1-9][0-9]*|\*|x|X)(\.(0|[1-9][0-9]*|\*|x|X)(\.(0|[1-9][0-9]*|\*|x|X)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?)?)\z",
        RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture)]
    private static partial Regex Comparator();
}
