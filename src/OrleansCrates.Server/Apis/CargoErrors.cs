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

    /// <summary>cargo's answer for a crate the registry does not have; also the answer for a crate outside a token's reach.</summary>
    public static JsonHttpResult<CargoErrorBody> CrateMissing(string name) => Status(StatusCodes.Status404NotFound, $"crate `{name}` does not exist");
}
