using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Server.Services;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// <c>POST /admin/api/v1/prefetch</c> (admin scope): warms the mirror with a list of crates.io packages
/// (<see cref="AdminPrefetch"/>); the answer is the summary once all are done, errors as <c>{"errors":[{"detail"}]}</c>.
/// </summary>
public static class AdminPrefetchApi
{
    public static IEndpointRouteBuilder MapAdminPrefetchApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/admin/api/v1/prefetch", PrefetchAsync).RequireAuthorization(CargoAuth.AdminPolicy);
        return app;
    }

    public static async Task<Results<Ok<PrefetchResponse>, JsonHttpResult<CargoErrorBody>>> PrefetchAsync(HttpContext context, AdminPrefetch prefetch)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = AdminPrefetch.MaxBodyBytes;
        }

        var result = await prefetch.RunAsync(context.User, context.Request.Body, context.RequestAborted);
        if (result.Status != AdminStatus.Ok)
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, result.Detail!);
        }

        var summary = result.Value!;
        return TypedResults.Ok(new PrefetchResponse(
            summary.Fetched,
            summary.AlreadyPresent,
            summary.IndexesReady,
            summary.IndexesFailed,
            [.. summary.Failed.Select(f => new PrefetchFailureJson(f.Package.Name, f.Package.Version, f.Error ?? ""))]));
    }

    public sealed record PrefetchResponse(
        [property: JsonPropertyName("fetched")] int Fetched,
        [property: JsonPropertyName("already_present")] int AlreadyPresent,
        [property: JsonPropertyName("indexes_ready")] int IndexesReady,
        [property: JsonPropertyName("indexes_failed")] int IndexesFailed,
        [property: JsonPropertyName("failed")] IReadOnlyList<PrefetchFailureJson> Failed);

    public sealed record PrefetchFailureJson(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("error")] string Error);
}
