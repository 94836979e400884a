using OrleansCrates.Accounts;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Hosting;

/// <summary>Who is calling, from the token cargo (or a paying client's HTTP Basic credentials) sent.</summary>
public sealed class RegistryAccess(TokenStore tokens, AccessPolicy policy, DownloadLog downloads, TimeProvider time)
{
    private const string CallerItem = "OrleansCrates.Caller";

    public AccessPolicy Policy => policy;

    /// <summary>The caller's valid token, or null when none (or an unknown or revoked one) was sent.</summary>
    public async Task<TokenInfo?> CallerOrNullAsync(HttpContext context)
    {
        if (context.Request.Headers.Authorization.Count == 0)
        {
            return null; // the common anonymous case: nothing to look up or remember
        }

        if (context.Items.TryGetValue(CallerItem, out var known))
        {
            return known as TokenInfo;
        }

        var secret = CredentialParser.SecretFrom(context.Request.Headers.Authorization);
        var token = secret is null ? null : await tokens.ValidateOrNullAsync(secret, context.RequestAborted);
        context.Items[CallerItem] = token;
        return token;
    }

    /// <summary>
    /// The one authorisation check of every token-gated call: who calls and whether they may act with
    /// <paramref name="needed"/> on <paramref name="crate"/> (null: a call not about one crate, such as a list, whose
    /// results the caller then limits with <see cref="AccessPolicy.Covers"/>). A crate outside the token's patterns is
    /// <see cref="AuthorizationStatus.OutOfReach"/> for every scope, admin included.
    /// </summary>
    public async Task<Authorization> AuthorizeAsync(HttpContext context, TokenScope needed, string? crate)
    {
        var caller = await CallerOrNullAsync(context);
        if (caller is null)
        {
            return new(null, string.IsNullOrEmpty(context.Request.Headers.Authorization) ? AuthorizationStatus.NoToken : AuthorizationStatus.InvalidToken);
        }

        if (crate is null)
        {
            return new(caller, policy.HasScope(caller, needed) ? AuthorizationStatus.Allowed : AuthorizationStatus.InsufficientScope);
        }

        return new(caller, policy.Decide(caller, needed, crate) switch
        {
            AccessDecision.Allowed => AuthorizationStatus.Allowed,
            AccessDecision.OutOfReach => AuthorizationStatus.OutOfReach,
            AccessDecision.InsufficientScope => AuthorizationStatus.InsufficientScope,
            _ => AuthorizationStatus.InvalidToken,
        });
    }

    /// <summary>
    /// Whether the caller may see this crate. Where reads are restricted, crates outside a token's patterns do not
    /// exist for it (the caller gets 404, so their existence does not leak).
    /// </summary>
    public async Task<bool> MayReadAsync(HttpContext context, bool restricted, string crate)
    {
        if (!restricted)
        {
            return true;
        }

        var caller = await CallerOrNullAsync(context);
        return caller is not null && policy.CanRead(caller, crate);
    }

    /// <summary>Records who downloaded what, for tokens only; batched in memory, never a storage write per request.</summary>
    public async Task RecordDownloadAsync(HttpContext context, string registry, string crate, string version)
    {
        var caller = await CallerOrNullAsync(context);
        if (caller is not null)
        {
            downloads.Record(new DownloadRecord(caller.Id, caller.User, registry, crate, version, time.GetUtcNow()));
        }
    }
}

/// <summary>What <see cref="RegistryAccess.AuthorizeAsync"/> decided, with the caller when a valid token was sent.</summary>
public readonly record struct Authorization(TokenInfo? Caller, AuthorizationStatus Status)
{
    public bool Allowed => Status == AuthorizationStatus.Allowed;
}

public enum AuthorizationStatus
{
    Allowed,

    /// <summary>No credentials were sent (401 with cargo's login challenge).</summary>
    NoToken,

    /// <summary>Credentials were sent but name no valid token (unknown or revoked): 403.</summary>
    InvalidToken,

    /// <summary>A valid token whose scope is too small for this call: 403.</summary>
    InsufficientScope,

    /// <summary>The crate is outside the token's patterns: answered exactly as for a crate that does not exist.</summary>
    OutOfReach,
}

/// <summary>Owners must be real users: those a token was ever issued to.</summary>
public sealed class TokenStoreUserDirectory(TokenStore tokens) : IUserDirectory
{
    public Task<bool> ExistsAsync(string login, CancellationToken ct) => tokens.UserExistsAsync(login, ct);
}

public static class ReadGate
{
    /// <summary>
    /// cargo's auth-required handshake (RFC 3139): where reads need a token, a request without a valid one gets 401 with
    /// <c>WWW-Authenticate: Cargo login_url="…/private/me"</c> — config.json included, since cargo asks for it first.
    /// </summary>
    public static RouteGroupBuilder RequireTokenWhen(this RouteGroupBuilder group, IEndpointRouteBuilder app, Func<IServiceProvider, bool> restricted)
    {
        // Settled at start-up: an unrestricted root pays nothing per request for the check.
        if (!restricted(app.ServiceProvider))
        {
            return group;
        }

        group.AddEndpointFilter(async (invocation, next) =>
        {
            var context = invocation.HttpContext;
            var access = context.RequestServices.GetRequiredService<RegistryAccess>();
            return await access.CallerOrNullAsync(context) is null
                ? Apis.CargoErrors.Unauthorized(context, "this registry requires a token: see the login URL")
                : await next(invocation);
        });
        return group;
    }
}
