namespace OrleansCrates.Accounts;

/// <summary>
/// What a validated token may do: the one decision every read, publish and admin path goes through. Scopes nest
/// (Admin ⊃ Publish ⊃ Read), and a token's crate patterns limit <em>every</em> scope, admin included: an admin token
/// made with <c>--crates acme-*</c> administers <c>acme-*</c> and nothing else. A crate outside a token's patterns is
/// <see cref="AccessDecision.OutOfReach"/> whatever the scope, so callers answer as for a crate that does not exist
/// (its existence never leaks). A revoked token may do nothing, even if a caller holds on to its <see cref="TokenInfo"/>.
/// </summary>
public sealed class AccessPolicy
{
    /// <summary>Whether <paramref name="token"/> may act with <paramref name="needed"/> on <paramref name="crateName"/>.</summary>
    public AccessDecision Decide(TokenInfo token, TokenScope needed, string crateName) =>
        token.IsRevoked ? AccessDecision.Revoked
        : !Covers(token, crateName) ? AccessDecision.OutOfReach
        : token.Scope < needed ? AccessDecision.InsufficientScope
        : AccessDecision.Allowed;

    /// <summary>
    /// Whether the token has <paramref name="needed"/> at all: the gate of calls that are not about one crate (lists).
    /// What such a call returns must still be limited with <see cref="Covers"/>.
    /// </summary>
    public bool HasScope(TokenInfo token, TokenScope needed) => !token.IsRevoked && token.Scope >= needed;

    /// <summary>Whether <paramref name="crateName"/> is within the token's crate patterns (no patterns: every crate).</summary>
    public bool Covers(TokenInfo token, string crateName) => !token.IsRevoked && CratePattern.AnyMatches(token.CratePatterns, crateName);

    public bool CanRead(TokenInfo token, string crateName) => Decide(token, TokenScope.Read, crateName) == AccessDecision.Allowed;

    public bool CanPublish(TokenInfo token, string crateName) => Decide(token, TokenScope.Publish, crateName) == AccessDecision.Allowed;

    /// <summary>Admin over this crate: admin scope and the crate within the token's patterns.</summary>
    public bool IsAdminOf(TokenInfo token, string crateName) => Decide(token, TokenScope.Admin, crateName) == AccessDecision.Allowed;
}

/// <summary>The answer of <see cref="AccessPolicy.Decide"/>.</summary>
public enum AccessDecision
{
    Allowed,

    /// <summary>The token was revoked.</summary>
    Revoked,

    /// <summary>The crate is outside the token's patterns: answer as if it did not exist.</summary>
    OutOfReach,

    /// <summary>The crate is within reach but the scope is too small (403).</summary>
    InsufficientScope,
}
