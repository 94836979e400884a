namespace OrleansCrates.Accounts.Tests;

public sealed class AccessPolicyTests
{
    private static readonly DateTimeOffset Created = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly AccessPolicy _policy = new();

    [Theory]
    // scope, patterns (comma-separated, "" = all), crate, can read, can publish, is admin of the crate
    [InlineData(TokenScope.Read, "", "serde", true, false, false)]
    [InlineData(TokenScope.Publish, "", "serde", true, true, false)]
    [InlineData(TokenScope.Admin, "", "serde", true, true, true)]
    [InlineData(TokenScope.Read, "acme-*", "acme-core", true, false, false)]
    [InlineData(TokenScope.Read, "acme-*", "serde", false, false, false)]
    [InlineData(TokenScope.Publish, "acme-*", "acme_core", true, true, false)]
    [InlineData(TokenScope.Publish, "acme_*", "Acme-Core", true, true, false)]
    [InlineData(TokenScope.Publish, "acme-*", "acme", false, false, false)]
    [InlineData(TokenScope.Publish, "acme-*", "acmecore", false, false, false)]
    [InlineData(TokenScope.Publish, "acme-*,tools", "tools", true, true, false)]
    [InlineData(TokenScope.Publish, "acme-*,tools", "tools-extra", false, false, false)]
    [InlineData(TokenScope.Admin, "acme-*", "serde", false, false, false)]
    [InlineData(TokenScope.Admin, "acme-*", "acme", false, false, false)]
    [InlineData(TokenScope.Admin, "acme-*", "acme-x", true, true, true)]
    public void Scopes_and_patterns_decide(TokenScope scope, string patterns, string crate, bool read, bool publish, bool admin)
    {
        var token = new TokenInfo("0123456789ab", "alice", scope, patterns.Split(',', StringSplitOptions.RemoveEmptyEntries), Created, null);
        Assert.Equal(read, _policy.CanRead(token, crate));
        Assert.Equal(publish, _policy.CanPublish(token, crate));
        Assert.Equal(admin, _policy.IsAdminOf(token, crate));
    }

    [Theory]
    // A pattern limits every scope: outside it the crate is out of reach (answered as missing) whatever the scope;
    // inside it, too small a scope is refused (403).
    [InlineData(TokenScope.Admin, "acme-*", "serde", TokenScope.Read, AccessDecision.OutOfReach)]
    [InlineData(TokenScope.Admin, "acme-*", "serde", TokenScope.Admin, AccessDecision.OutOfReach)]
    [InlineData(TokenScope.Read, "acme-*", "serde", TokenScope.Admin, AccessDecision.OutOfReach)]
    [InlineData(TokenScope.Read, "acme-*", "acme-x", TokenScope.Publish, AccessDecision.InsufficientScope)]
    [InlineData(TokenScope.Publish, "acme-*", "acme-x", TokenScope.Admin, AccessDecision.InsufficientScope)]
    [InlineData(TokenScope.Admin, "acme-*", "ACME_x", TokenScope.Admin, AccessDecision.Allowed)]
    [InlineData(TokenScope.Admin, "", "serde", TokenScope.Admin, AccessDecision.Allowed)]
    public void One_decision_for_every_scope(TokenScope scope, string patterns, string crate, TokenScope needed, AccessDecision expected)
    {
        var token = new TokenInfo("0123456789ab", "alice", scope, patterns.Split(',', StringSplitOptions.RemoveEmptyEntries), Created, null);
        Assert.Equal(expected, _policy.Decide(token, needed, crate));
        Assert.Equal(scope >= needed, _policy.HasScope(token, needed));
    }

    [Theory]
    [InlineData(TokenScope.Read)]
    [InlineData(TokenScope.Publish)]
    [InlineData(TokenScope.Admin)]
    public void A_revoked_token_may_do_nothing(TokenScope scope)
    {
        var token = new TokenInfo("0123456789ab", "alice", scope, [], Created, Created.AddMinutes(1));
        Assert.False(_policy.CanRead(token, "serde"));
        Assert.False(_policy.CanPublish(token, "serde"));
        Assert.False(_policy.IsAdminOf(token, "serde"));
        Assert.False(_policy.HasScope(token, TokenScope.Read));
        Assert.False(_policy.Covers(token, "serde"));
        Assert.Equal(AccessDecision.Revoked, _policy.Decide(token, TokenScope.Read, "serde"));
    }
}

public sealed class CratePatternTests
{
    [Theory]
    [InlineData("serde", "serde", true)]
    [InlineData("serde", "Serde", true)]
    [InlineData("serde", "serde_json", false)]
    [InlineData("serde_json", "serde-json", true)]
    [InlineData("serde-json", "SERDE_JSON", true)]
    [InlineData("*", "anything", true)]
    [InlineData("acme-*", "acme-", true)]
    [InlineData("acme-*", "acme_x_y", true)]
    [InlineData("*-internal", "billing_internal", true)]
    [InlineData("*-internal", "internal", false)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    [InlineData("a*b*c", "abcbc", true)]
    [InlineData("**", "", true)]
    [InlineData("acme", "acme-core", false)]
    [InlineData("a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false)]
    public void Matches_canonical_names_with_wildcards(string pattern, string crate, bool expected) =>
        Assert.Equal(expected, CratePattern.Matches(pattern, crate));

    [Fact]
    public void No_patterns_means_every_crate() => Assert.True(CratePattern.AnyMatches([], "whatever"));

    [Theory]
    [InlineData("acme-*", true)]
    [InlineData("acme_core", true)]
    [InlineData("*", true)]
    [InlineData("", false)]
    [InlineData("acme/x", false)]
    [InlineData("acme?", false)]
    [InlineData("a b", false)]
    public void Validates_patterns(string pattern, bool valid) => Assert.Equal(valid, CratePattern.IsValid(pattern));
}

public sealed class UserLoginTests
{
    [Theory]
    [InlineData("alice", true)]
    [InlineData("A", true)]
    [InlineData("0ci-bot_2", true)]
    [InlineData("a23456789012345678901234567890123456789", true)] // 39
    [InlineData("a234567890123456789012345678901234567890", false)] // 40
    [InlineData("", false)]
    [InlineData("-a", false)]
    [InlineData("a.b", false)]
    [InlineData("a@b", false)]
    public void Validates_logins(string login, bool valid) => Assert.Equal(valid, UserLogin.IsValid(login));
}
