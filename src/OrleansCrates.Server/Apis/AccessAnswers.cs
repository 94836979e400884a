using OrleansCrates.Accounts;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.Server.Apis;

/// <summary>The answers of the registry and admin APIs to a refused <see cref="Authorization"/>, in cargo's error shape.</summary>
public static class AccessAnswers
{
    /// <summary>
    /// Null when <paramref name="authorization"/> allows the call; otherwise 401 (no token, with cargo's login
    /// challenge), 403 (an unknown or revoked token, or too small a scope) or, for a crate outside the token's patterns,
    /// <paramref name="missing"/>: exactly the answer for a crate that does not exist.
    /// </summary>
    public static IResult? RefusalOrNull(HttpContext context, Authorization authorization, TokenScope needed, Func<IResult> missing) =>
        authorization.Status switch
        {
            AuthorizationStatus.Allowed => null,
            AuthorizationStatus.NoToken => CargoErrors.Unauthorized(context, $"this action requires a token with scope {TokenStore.ScopeName(needed)}"),
            AuthorizationStatus.InvalidToken => CargoErrors.Forbidden("invalid or revoked token"),
            AuthorizationStatus.InsufficientScope => CargoErrors.Forbidden(
                $"this action requires a token with scope {TokenStore.ScopeName(needed)} (this token's scope is {TokenStore.ScopeName(authorization.Caller!.Scope)})"),
            _ => missing(),
        };

    /// <summary>cargo's answer for a crate the registry does not have; also the answer for a crate outside a token's reach.</summary>
    public static IResult CrateMissing(string name) => CargoErrors.Status(StatusCodes.Status404NotFound, $"crate `{name}` does not exist");
}
