using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace OrleansCrates.Protocol;

/// <summary>
/// A version requirement with cargo's semantics (the <c>semver</c> crate cargo uses): comma-separated comparators
/// <c>^1.2.3</c>, <c>~1.2</c>, <c>=1.2.3</c>, <c>&gt;1.0</c>, <c>&gt;=1</c>, <c>&lt;2</c>, <c>&lt;=1.4</c>, the
/// wildcards <c>*</c>, <c>1.*</c>, <c>1.2.*</c>, and a bare <c>1.2.3</c>/<c>1.2</c>/<c>1</c> meaning caret. A version
/// matches when every comparator does; a pre-release version matches only if some comparator names the same
/// major.minor.patch with a pre-release of its own. Build metadata is ignored, in requirements and versions alike.
/// </summary>
public sealed class VersionReq
{
    public const int MaxLength = 512;

    private readonly Comparator[] _comparators;

    private VersionReq(Comparator[] comparators) => _comparators = comparators;

    /// <summary><c>*</c>: every version that is not a pre-release.</summary>
    public static VersionReq Star { get; } = new([]);

    /// <summary>Parses a requirement; on failure <paramref name="error"/> says what is wrong with it.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out VersionReq? req, [NotNullWhen(false)] out string? error)
    {
        req = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty version requirement";
            return false;
        }

        if (text.Length > MaxLength)
        {
            error = $"version requirement longer than {MaxLength} characters";
            return false;
        }

        var trimmed = text.Trim(' ');
        if (trimmed is "*" or "x" or "X")
        {
            req = Star;
            error = null;
            return true;
        }

        var comparators = new List<Comparator>();
        foreach (var part in trimmed.Split(','))
        {
            var comparator = part.Trim(' ');
            if (comparator is "*" or "x" or "X")
            {
                error = $"'{comparator}' must be the only comparator of a requirement";
                return false;
            }

            if (!Comparator.TryParse(comparator, out var parsed, out error))
            {
                return false;
            }

            comparators.Add(parsed);
        }

        req = new VersionReq([.. comparators]);
        error = null;
        return true;
    }

    public static bool TryParse(string? text, [NotNullWhen(true)] out VersionReq? req) => TryParse(text, out req, out _);

    public static VersionReq Parse(string text) =>
        TryParse(text, out var req, out var error) ? req : throw new FormatException($"'{text}' is not a valid version requirement: {error}.");

    /// <summary>Whether <paramref name="version"/> (a semver string, build metadata allowed) satisfies this requirement; false when it is not a version.</summary>
    public bool Matches(string version) => SemanticVersion.TryParse(version, out var parsed) && Matches(parsed);

    public bool Matches(SemanticVersion version)
    {
        foreach (var comparator in _comparators)
        {
            if (!comparator.Matches(version))
            {
                return false;
            }
        }

        if (!version.IsPrerelease)
        {
            return true;
        }

        foreach (var comparator in _comparators)
        {
            if (comparator.AllowsPrereleaseOf(version))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The requirement in one normal spelling (<c>^1.2</c>, <c>&gt;=1, &lt;2</c>, <c>1.*</c>, <c>*</c>): equal requirements print alike.</summary>
    public override string ToString() => _comparators.Length == 0 ? "*" : string.Join(", ", _comparators.Select(c => c.ToString()));

    private enum Op
    {
        Exact,
        Greater,
        GreaterEq,
        Less,
        LessEq,
        Tilde,
        Caret,
        Wildcard,
    }

    /// <summary>One comparator; a missing minor or patch (or a wildcard there) is null.</summary>
    private sealed record Comparator(Op Op, ulong Major, ulong? Minor, ulong? Patch, string Pre)
    {
        public static bool TryParse(string text, [NotNullWhen(true)] out Comparator? comparator, [NotNullWhen(false)] out string? error)
        {
            comparator = null;
            var (op, explicitOp, rest) = ReadOp(text);
            rest = rest.TrimStart(' ');
            if (rest.Length == 0)
            {
                error = $"'{text}' has no version";
                return false;
            }

            var parts = rest.Split('.', 3);
            if (!TryNumber(parts[0], out var major))
            {
                error = $"'{parts[0]}' in '{text}' is not a major version number";
                return false;
            }

            ulong? minor = null;
            ulong? patch = null;
            var pre = "";
            var wildcard = false;
            if (parts.Length > 1)
            {
                if (IsWildcard(parts[1]))
                {
                    wildcard = true;
                }
                else if (TryNumber(parts[1], out var m))
                {
                    minor = m;
                }
                else
                {
                    error = $"'{parts[1]}' in '{text}' is not a minor version number";
                    return false;
                }
            }

            if (parts.Length > 2)
            {
                var patchText = parts[2];
                var plus = patchText.IndexOf('+', StringComparison.Ordinal);
                if (plus >= 0)
                {
                    if (!IsDottedIdentifiers(patchText[(plus + 1)..], numericRules: false))
                    {
                        error = $"'{patchText[(plus + 1)..]}' in '{text}' is not valid build metadata";
                        return false;
                    }

                    patchText = patchText[..plus]; // build metadata: parsed, then ignored
                }

                var dash = patchText.IndexOf('-', StringComparison.Ordinal);
                if (dash >= 0)
                {
                    pre = patchText[(dash + 1)..];
                    patchText = patchText[..dash];
                    if (!IsDottedIdentifiers(pre, numericRules: true))
                    {
                        error = $"'{pre}' in '{text}' is not a valid pre-release";
                        return false;
                    }
                }

                if (IsWildcard(patchText))
                {
                    if (pre.Length > 0 || plus >= 0)
                    {
                        error = $"'{text}' has a pre-release or build metadata after a wildcard";
                        return false;
                    }

                    wildcard = true;
                }
                else if (wildcard)
                {
                    error = $"'{text}' has a version number after a wildcard";
                    return false;
                }
                else if (TryNumber(patchText, out var p))
                {
                    patch = p;
                }
                else
                {
                    error = $"'{patchText}' in '{text}' is not a patch version number";
                    return false;
                }
            }

            if (wildcard && !explicitOp)
            {
                op = Op.Wildcard;
            }

            comparator = new Comparator(op, major, minor, patch, pre);
            error = null;
            return true;
        }

        public bool Matches(SemanticVersion v) => Op switch
        {
            Op.Exact or Op.Wildcard => MatchesExact(v),
            Op.Greater => MatchesGreater(v),
            Op.GreaterEq => MatchesExact(v) || MatchesGreater(v),
            Op.Less => MatchesLess(v),
            Op.LessEq => MatchesExact(v) || MatchesLess(v),
            Op.Tilde => MatchesTilde(v),
            _ => MatchesCaret(v),
        };

        /// <summary>A pre-release version may match only a comparator with a pre-release on the same major.minor.patch.</summary>
        public bool AllowsPrereleaseOf(SemanticVersion v) =>
            Major == v.Major && Minor == v.Minor && Patch == v.Patch && Pre.Length > 0;

        public override string ToString()
        {
            var text = new StringBuilder();
            text.Append(Op switch
            {
                Op.Exact => "=",
                Op.Greater => ">",
                Op.GreaterEq => ">=",
                Op.Less => "<",
                Op.LessEq => "<=",
                Op.Tilde => "~",
                Op.Caret => "^",
                _ => "",
            });
            text.Append(Major.ToString(CultureInfo.InvariantCulture));
            if (Minor is { } minor)
            {
                text.Append('.').Append(minor.ToString(CultureInfo.InvariantCulture));
                if (Patch is { } patch)
                {
                    text.Append('.').Append(patch.ToString(CultureInfo.InvariantCulture));
                    if (Pre.Length > 0)
                    {
                        text.Append('-').Append(Pre);
                    }
                }
                else if (Op == Op.Wildcard)
                {
                    text.Append(".*");
                }
            }
            else if (Op == Op.Wildcard)
            {
                text.Append(".*");
            }

            return text.ToString();
        }

        private bool MatchesExact(SemanticVersion v) =>
            v.Major == Major && (Minor is null || v.Minor == Minor) && (Patch is null || v.Patch == Patch) &&
            SemanticVersion.ComparePrerelease(v.Pre, Pre) == 0;

        private bool MatchesGreater(SemanticVersion v)
        {
            if (v.Major != Major)
            {
                return v.Major > Major;
            }

            if (Minor is not { } minor)
            {
                return false;
            }

            if (v.Minor != minor)
            {
                return v.Minor > minor;
            }

            if (Patch is not { } patch)
            {
                return false;
            }

            return v.Patch != patch ? v.Patch > patch : SemanticVersion.ComparePrerelease(v.Pre, Pre) > 0;
        }

        private bool MatchesLess(SemanticVersion v)
        {
            if (v.Major != Major)
            {
                return v.Major < Major;
            }

            if (Minor is not { } minor)
            {
                return false;
            }

            if (v.Minor != minor)
            {
                return v.Minor < minor;
            }

            if (Patch is not { } patch)
            {
                return false;
            }

            return v.Patch != patch ? v.Patch < patch : SemanticVersion.ComparePrerelease(v.Pre, Pre) < 0;
        }

        private bool MatchesTilde(SemanticVersion v)
        {
            if (v.Major != Major || (Minor is { } minor && v.Minor != minor))
            {
                return false;
            }

            if (Patch is { } patch && v.Patch != patch)
            {
                return v.Patch > patch;
            }

            return SemanticVersion.ComparePrerelease(v.Pre, Pre) >= 0;
        }

        private bool MatchesCaret(SemanticVersion v)
        {
            if (v.Major != Major)
            {
                return false;
            }

            if (Minor is not { } minor)
            {
                return true;
            }

            if (Patch is not { } patch)
            {
                return Major > 0 ? v.Minor >= minor : v.Minor == minor;
            }

            if (Major > 0)
            {
                if (v.Minor != minor)
                {
                    return v.Minor > minor;
                }

                if (v.Patch != patch)
                {
                    return v.Patch > patch;
                }
            }
            else if (minor > 0)
            {
                if (v.Minor != minor)
                {
                    return false;
                }

                if (v.Patch != patch)
                {
                    return v.Patch > patch;
                }
            }
            else if (v.Minor != minor || v.Patch != patch)
            {
                return false;
            }

            return SemanticVersion.ComparePrerelease(v.Pre, Pre) >= 0;
        }

        private static (Op Op, bool Explicit, string Remainder) ReadOp(string text) => text switch
        {
            _ when text.StartsWith(">=", StringComparison.Ordinal) => (Op.GreaterEq, true, text[2..]),
            _ when text.StartsWith("<=", StringComparison.Ordinal) => (Op.LessEq, true, text[2..]),
            _ when text.StartsWith('>') => (Op.Greater, true, text[1..]),
            _ when text.StartsWith('<') => (Op.Less, true, text[1..]),
            _ when text.StartsWith('=') => (Op.Exact, true, text[1..]),
            _ when text.StartsWith('~') => (Op.Tilde, true, text[1..]),
            _ when text.StartsWith('^') => (Op.Caret, true, text[1..]),
            _ => (Op.Caret, false, text),
        };

        private static bool IsWildcard(string part) => part is "*" or "x" or "X";

        private static bool TryNumber(string text, out ulong value)
        {
            value = 0;
            return text.Length > 0 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0') &&
                ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }
    }

    /// <summary>Dot-separated identifiers of <c>[0-9A-Za-z-]</c>; with <paramref name="numericRules"/>, numeric ones have no leading zero.</summary>
    internal static bool IsDottedIdentifiers(string text, bool numericRules)
    {
        if (text.Length == 0)
        {
            return false;
        }

        foreach (var identifier in text.Split('.'))
        {
            if (identifier.Length == 0 || !identifier.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }

            if (numericRules && identifier.Length > 1 && identifier[0] == '0' && identifier.All(char.IsAsciiDigit))
            {
                return false;
            }
        }

        return true;
    }
}
