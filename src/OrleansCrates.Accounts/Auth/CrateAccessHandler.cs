using Microsoft.AspNetCore.Authorization;

namespace OrleansCrates.Accounts.Auth;

/// <summary>What a web API call needs: a valid token of at least <paramref name="Scope"/>.</summary>
public sealed record ScopeRequirement(TokenScope Scope) : IAuthorizationRequirement;

/// <summary>
/// The scope gate of the web API's endpoint policies, by <see cref="AccessPolicy"/>'s rules: a valid token of at least
/// the policy's scope. What such a call may do with a crate is asked per crate (<see cref="AccessPolicy.Decide"/>:
/// the crate within the token's patterns first, then the scope), and what a list returns is limited the same way.
/// </summary>
public sealed class CrateAccessHandler(AccessPolicy policy) : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        var token = TokenIdentity.TokenOf(context.User);
        if (token is null)
        {
            return Task.CompletedTask; // not authenticated: the policy evaluator challenges
        }

        if (policy.HasScope(token, requirement.Scope))
        {
            context.Succeed(requirement);
        }
        else
        {
            context.Fail(new AuthorizationFailureReason(this, token.IsRevoked
                ? CargoTokenHandler.InvalidToken
                : $"this action requires a token with scope {TokenStore.ScopeName(requirement.Scope)} (this token's scope is {TokenStore.ScopeName(token.Scope)})"));
        }

        return Task.CompletedTask;
    }
}
