namespace OrleansCrates.Accounts;

/// <summary>
/// What a validated token may do. Scopes nest (Admin ⊃ Publish ⊃ Read); a token's crate patterns limit reading and
/// publishing whatever its scope (an admin token with patterns reads and publishes only those crates, but is still an
/// admin). A revoked token may do nothing, even if a caller holds on to its <see cref="TokenInfo"/>.
/// </summary>
public sealed class AccessPolicy
{
    public bool CanRead(TokenInfo token, string crateName) =>
        !token.IsRevoked && CratePattern.AnyMatches(token.CratePatterns, crateName);

    public bool CanPublish(TokenInfo token, string crateName) =>
        !token.IsRevoked && token.Scope >= TokenScope.Publish && CratePattern.AnyMatches(token.CratePatterns, crateName);

    public bool IsAdmin(TokenInfo token) => !token.IsRevoked && token.Scope == TokenScope.Admin;
}
