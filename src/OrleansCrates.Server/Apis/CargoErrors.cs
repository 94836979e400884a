using Microsoft.AspNetCore.Http.HttpResults;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Apis;

/// <summary>Errors in the shape cargo prints: <c>{"errors":[{"detail":"..."}]}</c> (<see cref="CargoErrorBody"/>).</summary>
public static class CargoErrors
{
    public static JsonHttpResult<CargoErrorBody> Of(RegistryError error) => Status(error.Status, error.Detail);

    public static JsonHttpResult<CargoErrorBody> Status(int status, string detail) =>
        TypedResults.Json(new CargoErrorBody([new CargoErrorDetail(detail)]), statusCode: status);

    public static JsonHttpResult<CargoErrorBody> Forbidden(string detail) => Status(StatusCodes.Status403Forbidden, detail);

    /// <summary>
    /// Adds <c>Retry-After</c> to a 503 refusal (the crate's writer or storage could not be reached in time), so cargo
    /// waits and retries as it does for the mirror's 503s. An endpoint filter: handlers stay as they are.
    /// </summary>
    public static async ValueTask<object?> RetryAfterOnUnavailable(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        var inner = result is INestedHttpResult nested ? nested.Result : result;
        if (inner is IStatusCodeHttpResult { StatusCode: StatusCodes.Status503ServiceUnavailable })
        {
            context.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
        }

        return result;
    }

    /// <summary>What a 503 asks cargo to wait, in seconds (as <c>ErrorHandling</c>'s 503s).</summary>
    public const string RetryAfterSeconds = "5";

    /// <summary>cargo's answer for a crate the registry does not have; also the answer for a crate outside a token's reach.</summary>
    public static JsonHttpResult<CargoErrorBody> CrateMissing(string name) => Status(StatusCodes.Status404NotFound, $"crate `{name}` does not exist");
}
