using OrleansCrates.Protocol;

namespace OrleansCrates.Protocol.Tests;

/// <summary>Cargo's requirement semantics (the semver crate's own test cases, plus the pre-release rules).</summary>
public class VersionReqTests
{
    [Theory]
    // Caret, explicit and bare.
    [InlineData("^1.2.3", "1.2.3", true)]
    [InlineData("^1.2.3", "1.2.4", true)]
    [InlineData("^1.2.3", "1.9.0", true)]
    [InlineData("^1.2.3", "1.2.2", false)]
    [InlineData("^1.2.3", "2.0.0", false)]
    [InlineData("1.2.3", "1.5.0", true)]
    [InlineData("1.2.3", "2.0.0", false)]
    [InlineData("^0.2.3", "0.2.9", true)]
    [InlineData("^0.2.3", "0.3.0", false)]
    [InlineData("^0.0.3", "0.0.3", true)]
    [InlineData("^0.0.3", "0.0.4", false)]
    [InlineData("^0.0", "0.0.9", true)]
    [InlineData("^0.0", "0.1.0", false)]
    [InlineData("^0", "0.9.0", true)]
    [InlineData("^0", "1.0.0", false)]
    [InlineData("1.2", "1.2.0", true)]
    [InlineData("1.2", "1.9.9", true)]
    [InlineData("1.2", "1.1.9", false)]
    [InlineData("1", "1.0.0", true)]
    [InlineData("1", "1.99.0", true)]
    [InlineData("1", "2.0.0", false)]
    // Tilde.
    [InlineData("~1.2.3", "1.2.3", true)]
    [InlineData("~1.2.3", "1.2.9", true)]
    [InlineData("~1.2.3", "1.3.0", false)]
    [InlineData("~1.2", "1.2.0", true)]
    [InlineData("~1.2", "1.3.0", false)]
    [InlineData("~1", "1.9.0", true)]
    [InlineData("~1", "2.0.0", false)]
    // Exact, with partial versions.
    [InlineData("=1.2.3", "1.2.3", true)]
    [InlineData("=1.2.3", "1.2.4", false)]
    [InlineData("=1.2", "1.2.7", true)]
    [InlineData("=1.2", "1.3.0", false)]
    [InlineData("=1", "1.5.0", true)]
    // Ranges.
    [InlineData(">=1, <2", "1.0.0", true)]
    [InlineData(">=1, <2", "1.9.9", true)]
    [InlineData(">=1, <2", "2.0.0", false)]
    [InlineData(">=1, <2", "0.9.0", false)]
    [InlineData(">= 1.2 , < 1.4", "1.3.5", true)]
    [InlineData(">1.0", "1.1.0", true)]
    [InlineData(">1.0", "1.0.5", false)]
    [InlineData(">1.0.0", "1.0.1", true)]
    [InlineData(">1", "1.9.0", false)]
    [InlineData(">1", "2.0.0", true)]
    [InlineData("<=1.2", "1.2.9", true)]
    [InlineData("<=1.2", "1.3.0", false)]
    [InlineData("<1.2.3", "1.2.2", true)]
    [InlineData("<1.2.3", "1.2.3", false)]
    [InlineData("<1", "0.9.9", true)]
    // Wildcards.
    [InlineData("*", "0.0.1", true)]
    [InlineData("*", "99.0.0", true)]
    [InlineData("1.*", "1.0.0", true)]
    [InlineData("1.*", "1.7.3", true)]
    [InlineData("1.*", "2.0.0", false)]
    [InlineData("1.2.*", "1.2.5", true)]
    [InlineData("1.2.*", "1.3.0", false)]
    [InlineData("1.x", "1.3.0", true)]
    [InlineData("1.*.*", "1.3.0", true)]
    [InlineData(">=1.*", "2.5.0", true)]
    // Pre-releases match only a comparator with a pre-release on the same major.minor.patch.
    [InlineData("*", "1.0.0-alpha", false)]
    [InlineData("^1.2.3", "1.2.4-alpha", false)]
    [InlineData("^1.2.3", "1.3.0-beta.1", false)]
    [InlineData("<1.2.3", "1.2.3-alpha", false)]
    [InlineData(">=1.2.3-alpha", "1.2.3-beta", true)]
    [InlineData(">=1.2.3-alpha", "1.2.3", true)]
    [InlineData(">=1.2.3-alpha", "1.2.4", true)]
    [InlineData(">=1.2.3-alpha", "1.2.4-alpha", false)]
    [InlineData("^1.2.3-alpha.1", "1.2.3-alpha.2", true)]
    [InlineData("^1.2.3-alpha.1", "1.2.3-alpha.0", false)]
    [InlineData("^1.2.3-alpha.1", "1.2.3", true)]
    [InlineData("^1.2.3-alpha.1", "1.5.0", true)]
    [InlineData("^1.2.3-alpha.1", "1.5.0-alpha.1", false)]
    [InlineData("~1.2.3-beta", "1.2.3-beta.2", true)]
    [InlineData("=1.2.3-rc.1", "1.2.3-rc.1", true)]
    [InlineData("=1.2.3-rc.1", "1.2.3", false)]
    [InlineData(">=1.0.0-0, <2", "1.0.0-rc.1", true)]
    [InlineData(">=1.0.0-0, <2", "1.5.0-rc.1", false)]
    // Build metadata is ignored on both sides.
    [InlineData("=1.2.3+build.5", "1.2.3", true)]
    [InlineData("=1.2.3", "1.2.3+build.7", true)]
    [InlineData("^1.2", "1.2.0+build.7", true)]
    // Not versions at all.
    [InlineData("*", "1.0", false)]
    [InlineData("*", "not-a-version", false)]
    public void Matches_as_cargo_does(string req, string version, bool expected) =>
        Assert.True(VersionReq.Parse(req).Matches(version) == expected, $"'{req}' matching '{version}' should be {expected}");

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("abc")]
    [InlineData("1.2.3.4")]
    [InlineData(">=")]
    [InlineData("=>1")]
    [InlineData("01.2")]
    [InlineData("1.02")]
    [InlineData("1.*.3")]
    [InlineData("1.2.*-alpha")]
    [InlineData("*, >1")]
    [InlineData(">1, *")]
    [InlineData("1.2.3-")]
    [InlineData("1.2.3-01")]
    [InlineData("1.2.3-a..b")]
    [InlineData("1.2.3+")]
    [InlineData("1-alpha")]
    [InlineData(">= 1.2 ,")]
    [InlineData("1.2.3 - 2.0.0")]
    [InlineData("^1 ^2")]
    [InlineData("99999999999999999999")]
    public void Refuses_what_cargo_refuses(string req)
    {
        Assert.False(VersionReq.TryParse(req, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("1.2.3", "^1.2.3")]
    [InlineData("^1.2", "^1.2")]
    [InlineData(" >= 1 ,<2 ", ">=1, <2")]
    [InlineData("*", "*")]
    [InlineData("x", "*")]
    [InlineData("1.*", "1.*")]
    [InlineData("1.x.X", "1.*")]
    [InlineData("1.2.*", "1.2.*")]
    [InlineData("~1", "~1")]
    [InlineData(">=1.*", ">=1")]
    [InlineData("=1.2.3-rc.1+build", "=1.2.3-rc.1")]
    public void Prints_one_normal_spelling(string req, string normal) => Assert.Equal(normal, VersionReq.Parse(req).ToString());

    [Fact]
    public void Pre_release_precedence_follows_semver()
    {
        string[] ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"];
        var parsed = ordered.Select(v => SemanticVersion.TryParse(v, out var s) ? s : throw new FormatException(v)).ToList();
        for (var i = 1; i < parsed.Count; i++)
        {
            Assert.True(parsed[i - 1] < parsed[i], $"{ordered[i - 1]} < {ordered[i]}");
        }

        Assert.True(SemanticVersion.TryParse("1.0.0+build.1", out var withBuild));
        Assert.Equal(0, withBuild.CompareTo(parsed[^1]));
        Assert.False(SemanticVersion.TryParse("18446744073709551616.0.0", out _)); // beyond 64 bits
    }
}
