using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Accounts.Auth;

public sealed class CargoTokenOptions : AuthenticationSchemeOptions
{
    /// <summary>The page cargo's 401 challenge names (<c>login_url</c>), for a request.</summary>
    public Func<HttpRequest, string> LoginUrl { get; set; } = request => $"{request.Scheme}://{request.Host}{request.PathBase}/private/me";
}

/// <summary>
/// Turns the <c>Authorization</c> header into a principal, in the three forms clients send (see
/// <see cref="CredentialParser"/>): the token verbatim as cargo sends it, <c>Bearer &lt;token&gt;</c>, and HTTP Basic
/// <c>user:token</c>. No header: no result (anonymous). A malformed header, more than one header, or a token that is
/// unknown or revoked: a failure, never an exception and never a storage read for what cannot be a token.
/// A challenge is cargo's: 401 with <c>WWW-Authenticate: Cargo login_url="…"</c> and the reason in cargo's error
/// shape; a refusal is 403 in that shape.
/// </summary>
public sealed class CargoTokenHandler(IOptionsMonitor<CargoTokenOptions> options, ILoggerFactory logger, UrlEncoder encoder, TokenStore tokens)
    : AuthenticationHandler<CargoTokenOptions>(options, logger, encoder)
{
    /// <summary>Where a caller puts the detail of a challenge or refusal in <see cref="AuthenticationProperties.Items"/>.</summary>
    public const string DetailItem = "cargo.detail";

    public const string InvalidToken = "invalid or revoked token";

    /// <summary>Properties that give a challenge or refusal its detail (<see cref="DetailItem"/>).</summary>
    public static AuthenticationProperties WithDetail(string detail) => new(new Dictionary<string, string?> { [DetailItem] = detail });

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var headers = Request.Headers.Authorization;
        if (headers.Count == 0)
        {
            return AuthenticateResult.NoResult();
        }

        var token = await tokens.ValidateHeaderOrNullAsync(headers, Context.RequestAborted);
        if (token is null)
        {
            return AuthenticateResult.Fail(InvalidToken);
        }

        return AuthenticateResult.Success(new AuthenticationTicket(TokenIdentity.PrincipalOf(token), Scheme.Name));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = $"Cargo login_url=\"{Options.LoginUrl(Request)}\"";
        return WriteErrorAsync(StatusCodes.Status401Unauthorized, DetailOf(properties, "this action requires a token"));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteErrorAsync(StatusCodes.Status403Forbidden, DetailOf(properties, InvalidToken));

    private static string DetailOf(AuthenticationProperties properties, string fallback) =>
        properties.Items.TryGetValue(DetailItem, out var detail) && detail is not null ? detail : fallback;

    /// <summary>cargo prints <c>{"errors":[{"detail":…}]}</c>.</summary>
    private Task WriteErrorAsync(int status, string detail)
    {
        Response.StatusCode = status;
        Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(Response.Body, new CargoErrorBody([new CargoErrorDetail(detail)]), CargoErrorJson.Default.CargoErrorBody, Context.RequestAborted);
    }
}

public sealed record CargoErrorBody([property: System.Text.Json.Serialization.JsonPropertyName("errors")] IReadOnlyList<CargoErrorDetail> Errors);

public sealed record CargoErrorDetail([property: System.Text.Json.Serialization.JsonPropertyName("detail")] string Detail);

[System.Text.Json.Serialization.JsonSerializable(typeof(CargoErrorBody))]
internal sealed partial class CargoErrorJson : System.Text.Json.Serialization.JsonSerializerContext;
