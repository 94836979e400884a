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
