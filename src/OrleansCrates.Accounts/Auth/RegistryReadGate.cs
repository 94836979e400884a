using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace OrleansCrates.Accounts.Auth;

/// <summary>
/// The gate of an auth-required registry's reads (config.json, index files, downloads), cargo's auth-required
/// handshake, without the authorization middleware's round per request: every token has the read scope and an answer
/// <see cref="TokenStore"/> holds is never a revoked token, so the gate asks for "a valid token" alone. It finds it in
/// the token cache (no allocation), makes the token's shared principal (<see cref="TokenIdentity.PrincipalOf"/>) the
/// request's user and goes on. No token, a malformed header, more than one header or a token that is unknown or
/// revoked: cargo's 401 challenge (<see cref="TokenRequired"/>; a rejected token is a 401 too, so cargo says it was
/// rejected), through <see cref="CargoTokenHandler"/>. A storage failure propagates (503), never a 401. The
/// crate-by-crate reach of the token is the endpoint's to ask.
/// </summary>
public sealed class RegistryReadGate(RequestDelegate next, TokenStore tokens)
{
    /// <summary>The detail of the 401 an auth-required registry read gets without a valid token.</summary>
    public const string TokenRequired = "this registry requires a token: see the login URL";

    /// <summary>Endpoint metadata: the endpoint's reads need a token (<see cref="AddTo"/> puts the gate in front of it).</summary>
    public sealed class Required
    {
        public static readonly Required Instance = new();

        private Required()
        {
        }
    }

    public async Task InvokeAsync(HttpContext context)
    {
        if (await CargoAuth.AuthenticateAsync(context, tokens) is null)
        {
            await context.ChallengeAsync(CargoAuth.Scheme, CargoTokenHandler.WithDetail(TokenRequired));
            return;
        }

        await next(context);
    }

    /// <summary>Runs the gate for endpoints that carry <see cref="Required"/>; others pay one metadata lookup.</summary>
    public static IApplicationBuilder AddTo(IApplicationBuilder app) =>
        app.UseWhen(
            static context => context.GetEndpoint()?.Metadata.GetMetadata<Required>() is not null,
            static gated => gated.UseMiddleware<RegistryReadGate>());
}
