using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Apis;

/// <summary>Errors in the shape cargo prints: <c>{"errors":[{"detail":"..."}]}</c>.</summary>
public static class CargoErrors
{
    public static IResult Of(RegistryError error) => Status(error.Status, error.Detail);

    public static IResult Status(int status, string detail) =>
        TypedResults.Json(new ErrorBody([new ErrorDetail(detail)]), statusCode: status);

    public static IResult Forbidden(string detail) => Status(StatusCodes.Status403Forbidden, detail);

    /// <summary>401 with the challenge that starts cargo's token flow; the login URL tells how to get a token.</summary>
    public static IResult Unauthorized(HttpContext context, string detail)
    {
        var mirror = context.RequestServices.GetRequiredService<IOptions<MirrorOptions>>().Value;
        var loginUrl = PublicBaseUrl.Of(context.Request, mirror.PublicUrl) + "/private/me";
        context.Response.Headers.WWWAuthenticate = $"Cargo login_url=\"{loginUrl}\"";
        return Status(StatusCodes.Status401Unauthorized, detail);
    }

    public sealed record ErrorBody([property: JsonPropertyName("errors")] IReadOnlyList<ErrorDetail> Errors);

    public sealed record ErrorDetail([property: JsonPropertyName("detail")] string Detail);
}
