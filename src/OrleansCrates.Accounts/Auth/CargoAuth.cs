using System.Runtime.CompilerServices;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansCrates.Accounts.Auth;

/// <summary>
/// The registry's authentication scheme and authorization policies. One scheme (<see cref="Scheme"/>,
/// <see cref="CargoTokenHandler"/>) turns the credential forms clients send into a principal; three policies gate the
/// web API by scope (<see cref="CrateAccessHandler"/>); every decision about a crate is <see cref="AccessPolicy"/>'s.
/// The reads of an auth-required registry pass the <see cref="RegistryReadGate"/> instead.
/// </summary>
public static class CargoAuth
{
    public const string Scheme = "CargoToken";

    /// <summary>Web API calls that need some valid token; what it may do to the crate is decided per crate.</summary>
    public const string TokenPolicy = "api-token";

    /// <summary>Web API calls that need a publish-scope token.</summary>
    public const string PublishPolicy = "api-publish";

    /// <summary>Administration: an admin-scope token (its crate patterns still limit each crate).</summary>
    public const string AdminPolicy = "api-admin";

    public const string TokenIdClaim = "ocr:token";
    public const string ScopeClaim = "ocr:scope";
    public const string CratesClaim = "ocr:crates";

    /// <summary>
    /// Registers the scheme, the policies, <see cref="CrateAccessHandler"/> and the answers of refused calls in cargo's
    /// shape (<see cref="CargoAuthorizationResultHandler"/>). <paramref name="loginUrl"/> names the page of the 401
    /// challenge (<c>WWW-Authenticate: Cargo login_url="…"</c>) for a request.
    /// </summary>
    public static IServiceCollection AddCargoAuth(this IServiceCollection services, Func<Microsoft.AspNetCore.Http.HttpRequest, string> loginUrl)
    {
        services.AddAccounts();
        // No default scheme: a request is authenticated only where an endpoint asks for it (the anonymous warm path pays nothing).
        services.AddAuthentication()
            .AddScheme<CargoTokenOptions, CargoTokenHandler>(Scheme, options => options.LoginUrl = loginUrl);
        services.AddAuthorizationBuilder()
            .AddPolicy(TokenPolicy, Policy(new ScopeRequirement(TokenScope.Read)))
            .AddPolicy(PublishPolicy, Policy(new ScopeRequirement(TokenScope.Publish)))
            .AddPolicy(AdminPolicy, Policy(new ScopeRequirement(TokenScope.Admin)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, CrateAccessHandler>());
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, CargoAuthorizationResultHandler>();
        return services;
    }

    /// <summary>
    /// The token the request's <c>Authorization</c> header names (<see cref="TokenStore.ValidateHeaderOrNullAsync"/>),
    /// made the request's user as the token's shared principal (<see cref="TokenIdentity.PrincipalOf"/>); null, the
    /// user left as it is, when the header names no valid token. What <see cref="CargoTokenHandler"/> answers, without
    /// the authentication service's round: the <see cref="RegistryReadGate"/> and callers of open reads ask it per request.
    /// </summary>
    public static async ValueTask<ClaimsPrincipal?> AuthenticateAsync(Microsoft.AspNetCore.Http.HttpContext context, TokenStore tokens)
    {
        if (await tokens.ValidateHeaderOrNullAsync(context.Request.Headers.Authorization, context.RequestAborted) is not { } token)
        {
            return null;
        }

        context.User = TokenIdentity.PrincipalOf(token);
        return context.User;
    }

    private static AuthorizationPolicy Policy(ScopeRequirement requirement) =>
        new AuthorizationPolicyBuilder(Scheme).AddRequirements(requirement).Build();
}

/// <summary>The identity of a validated token: its claims, and the <see cref="TokenInfo"/> they came from.</summary>
public sealed class TokenIdentity : ClaimsIdentity
{
    public TokenIdentity(TokenInfo token, string scheme)
        : base(ClaimsOf(token), scheme, ClaimTypes.Name, ClaimTypes.Role)
    {
        Token = token;
    }

    private TokenIdentity(TokenIdentity other)
        : base(other)
    {
        Token = other.Token;
    }

    public TokenInfo Token { get; }

    public override ClaimsIdentity Clone() => new TokenIdentity(this);

    /// <summary>
    /// The principal of a validated token under <see cref="CargoAuth.Scheme"/>, built once per <see cref="TokenInfo"/>
    /// (an answer <see cref="TokenStore"/> keeps for a few seconds) rather than once per request: every request with a
    /// token gets it. Shared between requests, so it is never modified: code that wants other claims makes its own.
    /// </summary>
    public static ClaimsPrincipal PrincipalOf(TokenInfo token) =>
        Principals.GetValue(token, static t => new ClaimsPrincipal(new TokenIdentity(t, CargoAuth.Scheme)));

    /// <summary>Weak on the token: a principal lives as long as the cached answer it was built for.</summary>
    private static readonly ConditionalWeakTable<TokenInfo, ClaimsPrincipal> Principals = new();

    /// <summary>The token behind <paramref name="user"/>, or null for an anonymous caller.</summary>
    public static TokenInfo? TokenOf(ClaimsPrincipal? user)
    {
        if (user is null)
        {
            return null;
        }

        foreach (var identity in user.Identities)
        {
            if (identity is TokenIdentity { IsAuthenticated: true } token)
            {
                return token.Token;
            }
        }

        return null;
    }

    private static IEnumerable<Claim> ClaimsOf(TokenInfo token)
    {
        yield return new Claim(ClaimTypes.NameIdentifier, token.Id);
        yield return new Claim(ClaimTypes.Name, token.User);
        yield return new Claim(CargoAuth.TokenIdClaim, token.Id);
        yield return new Claim(CargoAuth.ScopeClaim, TokenStore.ScopeName(token.Scope));
        foreach (var pattern in token.CratePatterns)
        {
            yield return new Claim(CargoAuth.CratesClaim, pattern);
        }
    }
}
