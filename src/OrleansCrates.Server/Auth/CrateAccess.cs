using System.Security.Claims;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Auth;

/// <summary>
/// Who is calling and what they may do with a crate, for the calls whose endpoint cannot say it up front (the crate
/// is in the route or the body, or reading is open to anonymous callers). The caller is the token of the request's
/// header (<see cref="CargoAuth.AuthenticateAsync"/>, as the <see cref="RegistryReadGate"/> finds it for an
/// auth-required read); every decision is <see cref="AccessPolicy"/>'s (whose scope rule <see cref="CrateAccessHandler"/>
/// applies to the web API's endpoint policies), asked here for the crate in hand.
/// A request without an <c>Authorization</c> header is anonymous at no cost.
/// </summary>
public sealed class CrateAccess(AccessPolicy policy, TokenStore tokens, DownloadLog downloads, TimeProvider time)
{
    private static readonly ClaimsPrincipal Anonymous = new(new ClaimsIdentity());

    /// <summary>The caller: a principal from a valid token, else anonymous (no header, or one naming no valid token).</summary>
    public async ValueTask<ClaimsPrincipal> CallerAsync(HttpContext context)
    {
        if (context.Request.Headers.Authorization.Count == 0)
        {
            return Anonymous; // the common anonymous case: nothing to look up
        }

        if (TokenIdentity.TokenOf(context.User) is not null)
        {
            return context.User; // authenticated already by the endpoint's policy or the read gate
        }

        // As the read gate does (a token sent to an open registry is looked up on every download); kept as the user.
        return await CargoAuth.AuthenticateAsync(context, tokens) ?? Anonymous;
    }

    /// <summary>
    /// What <paramref name="user"/> may do with <paramref name="needed"/> on <paramref name="crate"/>: allowed, the
    /// crate out of the token's reach (answer as for a crate that does not exist), or too small a scope. An anonymous
    /// caller has no token, which is answered as one that is no longer valid.
    /// </summary>
    public AccessDecision Decide(ClaimsPrincipal user, TokenScope needed, string crate) =>
        TokenIdentity.TokenOf(user) is { } token ? policy.Decide(token, needed, crate) : AccessDecision.Revoked;

    public bool Allows(ClaimsPrincipal user, TokenScope needed, string crate) => Decide(user, needed, crate) == AccessDecision.Allowed;

    /// <summary>
    /// Whether the caller may see this crate. Where reads are restricted, crates outside a token's patterns do not
    /// exist for it (the caller gets 404, so their existence does not leak).
    /// </summary>
    public async ValueTask<bool> MayReadAsync(HttpContext context, bool restricted, string crate) =>
        !restricted || Allows(await CallerAsync(context), TokenScope.Read, crate);

    /// <summary>The items of a list that are about crates within the caller's reach for <paramref name="needed"/>.</summary>
    public List<T> WithinReach<T>(ClaimsPrincipal user, TokenScope needed, IEnumerable<T> items, Func<T, string> crateOf) =>
        [.. items.Where(item => Allows(user, needed, crateOf(item)))];

    /// <summary>Records who downloaded what, for tokens only; batched in memory, never a storage write per request.</summary>
    public async Task RecordDownloadAsync(HttpContext context, string registry, string crate, string version)
    {
        if (context.Request.Headers.Authorization.Count == 0)
        {
            return;
        }

        if (TokenIdentity.TokenOf(await CallerAsync(context)) is { } caller)
        {
            downloads.Record(new DownloadRecord(caller.Id, caller.User, registry, crate, version, time.GetUtcNow()));
        }
    }
}

/// <summary>Owners must be real users: those a token was ever issued to.</summary>
public sealed class TokenStoreUserDirectory(TokenStore tokens) : IUserDirectory
{
    public Task<bool> ExistsAsync(string login, CancellationToken ct) => tokens.UserExistsAsync(login, ct);
}
