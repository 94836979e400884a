using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace OrleansCrates.Accounts.Auth;

/// <summary>
/// The answers to an endpoint whose policy refused the caller, in cargo's terms: no credentials, or (on an
/// auth-required registry read) credentials that name no valid token, get the 401 challenge; on the web API a bad
/// token gets 403 <c>invalid or revoked token</c>; too small a scope gets 403 naming the scopes.
/// </summary>
public sealed class CargoAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    /// <summary>The detail of the 401 an auth-required registry read gets without a valid token.</summary>
    public const string RegistryTokenRequired = "this registry requires a token: see the login URL";

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            return next(context);
        }

        var requirement = policy.Requirements.OfType<ScopeRequirement>().FirstOrDefault() ?? new ScopeRequirement(TokenScope.Read, RegistryRead: true);
        var sentCredentials = context.Request.Headers.Authorization.Count > 0;
        if (authorizeResult.Challenged && (requirement.RegistryRead || !sentCredentials))
        {
            return context.ChallengeAsync(CargoAuth.Scheme, CargoTokenHandler.WithDetail(requirement.RegistryRead
                ? RegistryTokenRequired
                : $"this action requires a token with scope {TokenStore.ScopeName(requirement.Scope)}"));
        }

        var reason = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message ?? CargoTokenHandler.InvalidToken;
        return context.ForbidAsync(CargoAuth.Scheme, CargoTokenHandler.WithDetail(authorizeResult.Challenged ? CargoTokenHandler.InvalidToken : reason));
    }
}
