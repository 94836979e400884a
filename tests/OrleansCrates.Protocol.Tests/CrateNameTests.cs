using OrleansCrates.Protocol;

namespace OrleansCrates.Protocol.Tests;

public class CrateNameTests
{
    [Theory]
    [InlineData("a", "1/a")]
    [InlineData("ab", "2/ab")]
    [InlineData("abc", "3/a/abc")]
    [InlineData("cargo", "ca/rg/cargo")]
    [InlineData("MixedCase", "mi/xe/mixedcase")]
    [InlineData("serde_json", "se/rd/serde_json")]
    [InlineData("a-b", "3/a/a-b")]
    public void Index_paths_follow_cargo_prefix_rules(string name, string expected) =>
        Assert.Equal(expected, CrateName.Parse(name).IndexPath);

    [Theory]
    [InlineData("")]
    [InlineData("1abc")]
    [InlineData("-abc")]
    [InlineData("_abc")]
    [InlineData("a.b")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("..")]
    [InlineData("a\0b")]
    [InlineData("a b")]
    [InlineData("caf\u00e9")]
    public void Invalid_names_are_refused(string name) => Assert.False(CrateName.IsValid(name));

    [Fact]
    public void Names_longer_than_64_are_refused()
    {
        Assert.True(CrateName.IsValid(new string('a', 64)));
        Assert.False(CrateName.IsValid(new string('a', 65)));
    }

    [Fact]
    public void Equality_ignores_case_but_keeps_spelling()
    {
        var a = CrateName.Parse("Serde");
        var b = CrateName.Parse("serde");
        Assert.Equal(a, b);
        Assert.Equal("Serde", a.Value);
        Assert.Equal("serde", a.Lower);
        Assert.Equal("foo_bar", CrateName.Parse("Foo-Bar").Canonical);
    }

    [Theory]
    [InlineData("a", "1")]
    [InlineData("ab", "2")]
    [InlineData("Abc", "3/A")]
    [InlineData("MixedCase", "Mi/xe")]
    public void Download_prefix_keeps_case(string name, string prefix) =>
        Assert.Equal(prefix, CrateName.Parse(name).DownloadPrefix);
}

public class CanonicalNameTests
{
    [Theory]
    [InlineData("serde")]
    [InlineData("Serde-Json")]
    [InlineData("a_b-c")]
    public void Written_canonical_name_is_the_canonical_name(string value)
    {
        var name = CrateName.Parse(value);
        Span<char> written = stackalloc char[CrateName.MaxLength];

        Assert.Equal(name.Canonical, written[..name.WriteCanonical(written)].ToString());
    }
}

public class IndexPathTests
{
    [Theory]
    [InlineData("1/a", "a")]
    [InlineData("2/ab", "ab")]
    [InlineData("3/a/abc", "abc")]
    [InlineData("3/A/abc", "abc")]
    [InlineData("se/rd/serde", "serde")]
    [InlineData("MI/XE/MixedCase", "MixedCase")]
    [InlineData("mi/xe/mixedcase", "mixedcase")]
    public void Parses_valid_paths_in_any_case(string path, string name)
    {
        Assert.True(IndexPath.TryParse(path, out var parsed));
        Assert.Equal(name, parsed.Value.Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("serde")]
    [InlineData("xx/yy/serde")]
    [InlineData("1/ab")]
    [InlineData("3/b/abc")]
    [InlineData("2/a")]
    [InlineData("3/a-abc")]
    [InlineData("seXrd/serde")]
    [InlineData("se/rdXserde")]
    [InlineData("se/rx/serde")]
    [InlineData("se/rd/../serde")]
    [InlineData("se/rd/serde/")]
    [InlineData("../../etc/passwd")]
    [InlineData("se\\rd\\serde")]
    [InlineData("se/rd/ser%2fde")]
    [InlineData("se/rd/ser\0de")]
    [InlineData("config.json")]
    public void Refuses_anything_else(string path) => Assert.False(IndexPath.TryParse(path, out _));
}

public class CrateVersionTests
{
    [Theory]
    [InlineData("0.0.0")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3-alpha.1")]
    [InlineData("1.2.3+build.7")]
    [InlineData("1.2.3-rc.1+build-5.x")]
    [InlineData("10.20.30-0A.is.legal")]
    public void Accepts_semver(string version) => Assert.True(CrateVersion.IsValid(version));

    [Theory]
    [InlineData("")]
    [InlineData("1.2")]
    [InlineData("01.2.3")]
    [InlineData("1.2.3-01")]
    [InlineData("1.2.3+")]
    [InlineData("1.2.3/..")]
    [InlineData("../1.2.3")]
    [InlineData("1.2.3\0")]
    [InlineData("1.2.3 ")]
    [InlineData("1.2.3%2B4")]
    public void Refuses_non_semver(string version) => Assert.False(CrateVersion.IsValid(version));

    [Fact]
    public void Build_metadata_is_not_part_of_identity() =>
        Assert.Equal("1.0.0-rc.1", CrateVersion.WithoutBuildMetadata("1.0.0-rc.1+abc"));
}
