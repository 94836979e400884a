namespace OrleansCrates.Accounts;

/// <summary>
/// Crate name patterns on tokens: an exact name (<c>acme-core</c>) or a name with <c>*</c> wildcards anywhere
/// (<c>acme-*</c>, <c>*-internal</c>, <c>*</c>). Matching compares canonical names, as crates.io does for uniqueness:
/// case-insensitive and with <c>-</c> equal to <c>_</c>, so <c>acme-*</c> and <c>acme_*</c> are the same pattern and
/// both match <c>Acme_Core</c>.
/// </summary>
public static class CratePattern
{
    public const int MaxLength = 64;

    /// <summary>1–64 characters of ASCII letters, digits, <c>-</c>, <c>_</c> and <c>*</c>.</summary>
    public static bool IsValid(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern) || pattern.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in pattern)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '*'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Lowercase, <c>_</c> written as <c>-</c>.</summary>
    public static string Canonical(string name) => name.ToLowerInvariant().Replace('_', '-');

    /// <summary>True when no patterns are given (every crate) or any of them matches <paramref name="crateName"/>.</summary>
    public static bool AnyMatches(IReadOnlyList<string> patterns, string crateName)
    {
        if (patterns.Count == 0)
        {
            return true;
        }

        foreach (var pattern in patterns)
        {
            if (Matches(pattern, crateName))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Glob match of canonical forms; <c>*</c> matches any run of characters, including none.</summary>
    public static bool Matches(string pattern, string crateName)
    {
        var p = Canonical(pattern);
        var s = Canonical(crateName);
        // Linear-time wildcard matching: remember the last '*' and where in the name it started matching.
        int pi = 0, si = 0, star = -1, mark = 0;
        while (si < s.Length)
        {
            if (pi < p.Length && p[pi] != '*' && p[pi] == s[si])
            {
                pi++;
                si++;
            }
            else if (pi < p.Length && p[pi] == '*')
            {
                star = pi++;
                mark = si;
            }
            else if (star >= 0)
            {
                pi = star + 1;
                si = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (pi < p.Length && p[pi] == '*')
        {
            pi++;
        }

        return pi == p.Length;
    }
}
