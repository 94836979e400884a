using Microsoft.AspNetCore.Authorization;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;

namespace OrleansCrates.Server.Http;

/// <summary>
/// The mirror's index files (<c>GET</c>/<c>HEAD /index/{**path}</c>, the request a build storm sends most) taken to their
/// endpoint without the router: the endpoint is set, its one route value too, and what the pipeline would run between
/// routing and the endpoint runs (the read gate where reads need a token, <c>Mirror:ReadRequiresToken</c>; nothing
/// else applies to this endpoint), then its delegate: what routing would do for that path, minus matching it against
/// every route and passing each middleware that follows routing. That skipped work was about a sixth of a warm index
/// request's cycles (the README's benchmark section). Taken only when it changes nothing but cost: the endpoint may run
/// on a socket event thread, answers GET and HEAD and needs no authorization policy, and the path is one the router
/// would give that endpoint with this value (its exact-case prefix, a non-empty rest, not <c>config.json</c>, and no
/// route under <c>/index</c> but these two).
/// Everything else, other letter cases included, goes on to the router.
/// </summary>
public sealed partial class DirectIndexRoute(RequestDelegate next, IEndpointRouteBuilder routes, ILogger<DirectIndexRoute> logger)
{
    public const string Prefix = "/index/";
    private const string ConfigFile = "config.json";

    /// <summary>The index files' route, as the mirror maps it (one spelling for the router and for this route's lookup).</summary>
    public const string Pattern = Prefix + "{**path}";

    /// <summary>config.json's route, as the mirror and the private registry map it.</summary>
    public const string ConfigPath = Prefix + ConfigFile;

    /// <summary>
    /// Found on the first request, when every endpoint is mapped (and said in the log, once); null when the endpoint does
    /// not qualify. Finding it throws nothing, so no failure is kept for every later request.
    /// </summary>
    private readonly Lazy<Target?> _target = new(() => Build(routes, logger), LazyThreadSafetyMode.ExecutionAndPublication);

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value;
        if (path is null || path.Length <= Prefix.Length || !path.StartsWith(Prefix, StringComparison.Ordinal)
            || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            || path.AsSpan(Prefix.Length).StartsWith(ConfigFile, StringComparison.OrdinalIgnoreCase) // config.json's, with a trailing slash too
            || _target.Value is not { } target)
        {
            return next(context);
        }

        context.SetEndpoint(target.Endpoint);
        request.RouteValues = new RouteValueDictionary { ["path"] = path[Prefix.Length..] };
        return target.Run(context);
    }

    /// <summary>The endpoint, and its delegate behind the read gate where the endpoint carries one.</summary>
    private sealed record Target(Endpoint Endpoint, RequestDelegate Run);

    private static Target? Build(IEndpointRouteBuilder routes, ILogger logger)
    {
        var endpoint = Find(routes);
        var gated = endpoint?.Metadata.GetMetadata<RegistryReadGate.Required>() is not null;
        var tokens = gated ? routes.ServiceProvider.GetService<TokenStore>() : null;
        if (endpoint is not { RequestDelegate: { } run } || (gated && tokens is null))
        {
            LogMode(logger, "through the router (the index endpoint does not qualify for a direct route)");
            return null;
        }

        if (gated)
        {
            run = new RegistryReadGate(run, tokens!).InvokeAsync;
        }

        LogMode(logger, gated ? "straight to their endpoint past the router, behind the read gate" : "straight to their endpoint past the router");
        return new Target(endpoint, run);
    }

    [LoggerMessage(EventId = LogEvents.DirectIndexRouteMode, Level = LogLevel.Information, Message = "Index files: {Mode}")]
    private static partial void LogMode(ILogger logger, string mode);

    /// <summary>A route's pattern as written, with its leading slash (a pattern may be mapped without one).</summary>
    private static string RouteText(RouteEndpoint endpoint) => "/" + endpoint.RoutePattern.RawText?.TrimStart('/');

    /// <summary>The mirror's index endpoint, if it qualifies (see the type's summary).</summary>
    public static Endpoint? Find(IEndpointRouteBuilder routes)
    {
        var underIndex = routes.DataSources
            .SelectMany(source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .Where(e => RouteText(e).StartsWith("/index", StringComparison.OrdinalIgnoreCase))
            .ToList();
        var endpoint = underIndex.FirstOrDefault(e => RouteText(e) == Pattern);
        var metadata = endpoint?.Metadata;
        return metadata is not null
            && underIndex.All(e => e == endpoint || string.Equals(RouteText(e), ConfigPath, StringComparison.OrdinalIgnoreCase)) // no other route (a second one of this pattern included) could win a path
            && metadata.GetMetadata<ThreadPoolDispatch.EventThreadSafe>() is not null
            && metadata.GetMetadata<IAuthorizeData>() is null
            && metadata.GetMetadata<HttpMethodMetadata>() is { } methods
            && methods.HttpMethods.Contains(HttpMethods.Get) && methods.HttpMethods.Contains(HttpMethods.Head)
            ? endpoint
            : null;
    }
}

public static class DirectIndexRouteExtensions
{
    /// <summary>Before <c>UseRouting</c>: index files go straight to their endpoint (see <see cref="DirectIndexRoute"/>).</summary>
    public static WebApplication UseDirectIndexRoute(this WebApplication app)
    {
        app.UseMiddleware<DirectIndexRoute>((IEndpointRouteBuilder)app);
        return app;
    }
}
