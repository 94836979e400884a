using CsCheck;
using static OrleansCrates.Testing.Properties.Generators;

namespace OrleansCrates.Protocol.Tests;

/// <summary>Property tests: valid identifiers stay valid, and nothing with a trailing newline or control character passes.</summary>
public sealed class IdentifierPropertyTests
{
    private static readonly Gen<string> Numeric = Gen.OneOf(Gen.Const("0"), Gen.Int[1, 99999].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private static readonly Gen<string> Identifier = Chars("a-zA-Z0-9-").Array[1, 8].Select(a => new string(a))
        .Where(s => !s.All(char.IsAsciiDigit) || s == "0" || s[0] != '0');

    /// <summary>SemVer 2.0.0 versions, with and without pre-release and build metadata.</summary>
    internal static readonly Gen<string> SemVer = Gen.Select(
        Numeric, Numeric, Numeric,
        Identifier.Array[0, 3].Select(ids => ids.Length == 0 ? "" : "-" + string.Join('.', ids)),
        Chars("a-zA-Z0-9-").Array[1, 6].Select(a => new string(a)).Array[0, 2].Select(ids => ids.Length == 0 ? "" : "+" + string.Join('.', ids)),
        (major, minor, patch, pre, build) => $"{major}.{minor}.{patch}{pre}{build}");

    internal static readonly Gen<string> CrateNames = Gen.Select(
        Chars("a-zA-Z"), Chars("a-zA-Z0-9_-").Array[0, 63], (first, rest) => first + new string(rest));

    /// <summary>Characters a validator must never let through: every control character and a few separators.</summary>
    internal static readonly Gen<char> Hostile = Gen.OneOf(Gen.Char[(char)0, (char)31], OneOf('\u007f', '\u0085', '\u2028', '\u2029', ' ', '/', '\\'));

    [Fact]
    public void Generated_semantic_versions_are_valid() =>
        SemVer.Sample(v => Assert.True(CrateVersion.IsValid(v), v));

    [Fact]
    public void A_version_with_a_hostile_character_anywhere_is_invalid() =>
        Gen.Select(SemVer, Hostile, Gen.Int[0, 1000]).Sample((v, c, at) =>
        {
            var position = at % (v.Length + 1);
            var bad = v.Insert(position, c.ToString());
            Assert.False(CrateVersion.IsValid(bad), bad);
            Assert.False(CrateVersion.IsValid(v + "\n"), v);
        });

    [Fact]
    public void Generated_crate_names_are_valid_and_a_hostile_character_anywhere_makes_them_invalid() =>
        Gen.Select(CrateNames, Hostile, Gen.Int[0, 1000]).Sample((name, c, at) =>
        {
            Assert.True(CrateName.IsValid(name), name);
            var bad = name.Insert(at % (name.Length + 1), c.ToString());
            Assert.False(CrateName.IsValid(bad), bad);
            Assert.False(CrateName.TryParse(name + "\n", out _), name);
        });

    [Fact]
    public void No_string_with_a_control_character_is_a_valid_version_or_name() =>
        Gen.Select(Gen.String, Gen.Char[(char)0, (char)31], Gen.Int[0, 1000]).Sample((text, c, at) =>
        {
            var s = text.Insert(at % (text.Length + 1), c.ToString());
            Assert.False(CrateVersion.IsValid(s));
            Assert.False(CrateName.IsValid(s));
        });

    [Fact]
    public void Build_metadata_is_cut_at_the_first_plus() =>
        SemVer.Sample(v =>
        {
            var core = CrateVersion.WithoutBuildMetadata(v);
            Assert.DoesNotContain('+', core);
            Assert.True(CrateVersion.IsValid(core), core);
        });
}
