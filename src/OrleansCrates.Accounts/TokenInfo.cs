namespace OrleansCrates.Accounts;

/// <summary>What a token may do. Each scope includes the ones before it: Publish implies Read; Admin implies both.</summary>
public enum TokenScope
{
    /// <summary>Download crates and read index files.</summary>
    Read,

    /// <summary>Read, plus publish, yank and unyank.</summary>
    Publish,

    /// <summary>Everything, including managing tokens and owners.</summary>
    Admin,
}

/// <summary>
/// A token as everyone but its holder sees it: never the secret. <paramref name="Id"/> is the first 12 hex digits of
/// the secret's SHA-256, public and stable, used to list and revoke. <paramref name="CratePatterns"/> limit the crates
/// the token applies to (see <see cref="CratePattern"/>); empty means every crate.
/// </summary>
public sealed record TokenInfo(
    string Id,
    string User,
    TokenScope Scope,
    IReadOnlyList<string> CratePatterns,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt)
{
    public bool IsRevoked => RevokedAt is not null;
}

/// <summary>A user, created with their first token. <paramref name="Login"/> keeps the first spelling used.</summary>
public sealed record UserInfo(string Login, DateTimeOffset CreatedAt);
