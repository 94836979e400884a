using System.Diagnostics.CodeAnalysis;
using OrleansCrates.Protocol;

namespace OrleansCrates.Mirror.Policy;

/// <summary>
/// One allow or deny entry: a crate name or name pattern, optionally with a version requirement
/// (<c>serde</c>, <c>tokio-*</c>, <c>openssl@&lt;0.10.55</c>, <c>acme_*@^2</c>).
/// </summary>
public sealed class PolicyEntry
{
    private readonly string _pattern;

    private PolicyEntry(string text, string pattern, VersionReq? requirement)
    {
        Text = text;
        _pattern = pattern;
        Requirement = requirement;
    }

    /// <summary>The entry as configured.</summary>
    public string Text { get; }

    /// <summary>Null when the entry covers every version of the crates it names.</summary>
    public VersionReq? Requirement { get; }

    public static bool TryParse(string? text, [NotNullWhen(true)] out PolicyEntry? entry, [NotNullWhen(false)] out string? error)
    {
        entry = null;
        var trimmed = text?.Trim() ?? "";
        var at = trimmed.IndexOf('@', StringComparison.Ordinal);
        var name = at < 0 ? trimmed : trimmed[..at].TrimEnd();
        if (!IsValidPattern(name))
        {
            error = $"'{text}': the name must be 1–64 letters, digits, '-', '_' or '*'";
            return false;
        }

        VersionReq? requirement = null;
        if (at >= 0 && !VersionReq.TryParse(trimmed[(at + 1)..], out requirement, out var reqError))
        {
            error = $"'{text}': {reqError}";
            return false;
        }

        entry = new PolicyEntry(trimmed, Canonical(name), requirement);
        error = null;
        return true;
    }

    public bool MatchesName(CrateName name) => Glob(_pattern, name.Canonical);

    public bool Matches(CrateName name, SemanticVersion version) =>
        MatchesName(name) && (Requirement is null || Requirement.Matches(version));

    public override string ToString() => Text;

    /// <summary>Lower case with '-' written as '_', as <see cref="CrateName.Canonical"/>.</summary>
    public static string Canonical(string name) => name.ToLowerInvariant().Replace('-', '_');

    private static bool IsValidPattern(string name) =>
        name.Length is > 0 and <= CrateName.MaxLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '*');

    /// <summary>Linear-time wildcard match; <c>*</c> matches any run of characters, including none.</summary>
    private static bool Glob(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, mark = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] != '*' && pattern[p] == name[n])
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
