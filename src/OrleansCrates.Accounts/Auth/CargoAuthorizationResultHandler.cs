using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace OrleansCrates.Accounts.Auth;

/// <summary>
/// The answers to a web API endpoint whose policy refused the caller, in cargo's terms: no credentials get the 401
/// challenge; a bad token gets 403 <c>invalid or revoked token</c>; too small a scope gets 403 naming the scopes.
/// (The reads of an auth-required registry answer 401 for a bad token too: <see cref="RegistryReadGate"/>.)
/// </summary>
public sealed class CargoAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            return next(context);
        }

        var requirement = policy.Requirements.OfType<ScopeRequirement>().FirstOrDefault() ?? new ScopeRequirement(TokenScope.Read);
        if (authorizeResult.Challenged && context.Request.Headers.Authorization.Count == 0)
        {
            return context.ChallengeAsync(CargoAuth.Scheme, CargoTokenHandler.WithDetail($"this action requires a token with scope {TokenStore.ScopeName(requirement.Scope)}"));
        }

        var reason = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message ?? CargoTokenHandler.InvalidToken;
        return context.ForbidAsync(CargoAuth.Scheme, CargoTokenHandler.WithDetail(authorizeResult.Challenged ? CargoTokenHandler.InvalidToken : reason));
    }
}
