using Microsoft.AspNetCore.Authorization;

namespace OrleansCrates.Accounts.Auth;

/// <summary>
/// What a call needs: a valid token of at least <paramref name="Scope"/>. <paramref name="RegistryRead"/>: a read of
/// an auth-required registry, where cargo's handshake wants a 401 (not a 403) for a token it should replace.
/// </summary>
public sealed record ScopeRequirement(TokenScope Scope, bool RegistryRead) : IAuthorizationRequirement;

/// <summary>The crate a resource-based check is about (by name, as it came; patterns compare canonically).</summary>
public sealed record CrateResource(string Name);

/// <summary>Why <see cref="CrateAccessHandler"/> refused: the caller answers 404 for <see cref="AccessDecision.OutOfReach"/>, 403 otherwise.</summary>
public sealed class AccessFailure(IAuthorizationHandler handler, AccessDecision decision, string message) : AuthorizationFailureReason(handler, message)
{
    public AccessDecision Decision { get; } = decision;
}

/// <summary>
/// The one authorization decision of every token-gated call (through <see cref="AccessPolicy"/>'s rules): a call about a
/// <see cref="CrateResource"/> needs the crate within the token's patterns (else <see cref="AccessDecision.OutOfReach"/>,
/// for every scope, admin included) and then the scope; a call about no crate (an endpoint's policy, a list) needs the
/// scope, and what it returns is limited by asking again per crate.
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

        var decision = context.Resource is CrateResource crate
            ? policy.Decide(token, requirement.Scope, crate.Name)
            : policy.HasScope(token, requirement.Scope) ? AccessDecision.Allowed
            : token.IsRevoked ? AccessDecision.Revoked : AccessDecision.InsufficientScope;
        if (decision == AccessDecision.Allowed)
        {
            context.Succeed(requirement);
        }
        else
        {
            context.Fail(new AccessFailure(this, decision, decision switch
            {
                AccessDecision.OutOfReach => "the crate is outside the token's patterns",
                AccessDecision.Revoked => CargoTokenHandler.InvalidToken,
                _ => $"this action requires a token with scope {TokenStore.ScopeName(requirement.Scope)} (this token's scope is {TokenStore.ScopeName(token.Scope)})",
            }));
        }

        return Task.CompletedTask;
    }

    /// <summary>What a failed <see cref="AuthorizationResult"/> was (<see cref="AccessDecision.Allowed"/> when it succeeded).</summary>
    public static AccessDecision DecisionOf(AuthorizationResult result) =>
        result.Succeeded ? AccessDecision.Allowed
        : result.Failure?.FailureReasons.OfType<AccessFailure>().FirstOrDefault()?.Decision ?? AccessDecision.Revoked;
}
