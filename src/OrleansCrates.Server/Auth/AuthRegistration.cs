using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;

namespace OrleansCrates.Server.Auth;

public static class AuthRegistration
{
    /// <summary>
    /// The <see cref="CargoAuth.Scheme"/> scheme (cargo's token, Bearer, Basic), the read/publish/admin policies,
    /// <see cref="CrateAccess"/> and the users directory. The 401 challenge names <c>{Mirror:PublicUrl or the
    /// request's base}/private/me</c>, what <c>cargo login</c> shows.
    /// </summary>
    public static IServiceCollection AddRegistryAuth(this IServiceCollection services)
    {
        services.AddCargoAuth(request =>
        {
            var mirror = request.HttpContext.RequestServices.GetRequiredService<IOptions<MirrorOptions>>().Value;
            return Http.PublicBaseUrl.Of(request, mirror.PublicUrl) + "/private/me";
        });
        services.AddSingleton<CrateAccess>();
        services.AddSingleton<Registry.IUserDirectory, TokenStoreUserDirectory>();
        return services;
    }

    /// <summary>
    /// The authorization middleware, for endpoints with a policy, and the <see cref="RegistryReadGate"/>, for the reads of
    /// an auth-required registry (<see cref="RequireTokenWhen"/>). No authentication middleware: each policy names
    /// <see cref="CargoAuth.Scheme"/>, so only a request to a guarded endpoint (or one a handler asks about, see
    /// <see cref="CrateAccess.CallerAsync"/>) is authenticated. The middleware runs only for endpoints that carry
    /// authorization metadata, so the anonymous warm path (an open registry) does no authorization work at all.
    /// </summary>
    public static WebApplication UseRegistryAuth(this WebApplication app)
    {
        // Tell WebApplication not to add UseAuthentication/UseAuthorization to the front of the pipeline itself.
        var properties = ((IApplicationBuilder)app).Properties;
        properties["__AuthenticationMiddlewareSet"] = true;
        properties["__AuthorizationMiddlewareSet"] = true;
        app.UseWhen(context => context.GetEndpoint()?.Metadata.GetMetadata<IAuthorizeData>() is not null, guarded => guarded.UseAuthorization());
        RegistryReadGate.AddTo(app);
        return app;
    }

    /// <summary>
    /// cargo's auth-required handshake (RFC 3139): where reads need a token, a request without a valid one gets 401 with
    /// <c>WWW-Authenticate: Cargo login_url="…/private/me"</c> — config.json included, since cargo asks for it first.
    /// The <see cref="RegistryReadGate"/> decides it at the cost of a cache lookup (every download of an auth-required
    /// registry passes it). Settled at start-up: an unrestricted root carries no gate, so pays nothing per request.
    /// </summary>
    public static RouteGroupBuilder RequireTokenWhen(this RouteGroupBuilder group, IEndpointRouteBuilder app, Func<IServiceProvider, bool> restricted) =>
        restricted(app.ServiceProvider) ? group.WithMetadata(RegistryReadGate.Required.Instance) : group;
}
