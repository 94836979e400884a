using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Operations;
using OrleansCrates.Server.Operations.Statistics;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// The rustup toolchain mirror: <c>/rustup/dist/…</c> and <c>/rustup/rustup/…</c>, as on the dist server, so
/// <c>RUSTUP_DIST_SERVER=http://HOST:PORT/rustup</c> and <c>RUSTUP_UPDATE_ROOT=http://HOST:PORT/rustup/rustup</c> work.
/// Open unless <c>Toolchains:ReadRequiresToken</c>, then HTTP Basic with a token as the password.
/// </summary>
public static class ToolchainApi
{
    public static IEndpointRouteBuilder MapToolchainApi(this IEndpointRouteBuilder app)
    {
        var rustup = app.MapGroup("/rustup");
        if (app.ServiceProvider.GetRequiredService<IOptions<ToolchainOptions>>().Value.ReadRequiresToken)
        {
            rustup.AddEndpointFilter(async (invocation, next) =>
            {
                var context = invocation.HttpContext;
                if (Accounts.Auth.TokenIdentity.TokenOf(await context.RequestServices.GetRequiredService<Auth.CrateAccess>().CallerAsync(context)) is not null)
                {
                    return await next(invocation);
                }

                context.Response.Headers.WWWAuthenticate = "Basic realm=\"OrleansCrates toolchains\"";
                return PlainText.Status(StatusCodes.Status401Unauthorized, "this toolchain mirror requires a token (put it in RUSTUP_DIST_SERVER as http://token:TOKEN@HOST/rustup)");
            });
        }

        rustup.MapMethods("/{**path}", MirrorApi.GetAndHead, GetFile);
        return app;
    }

    public static async Task<Results<SpooledFileHttpResult, ToolchainFileHttpResult, ContentHttpResult, RetryableText>> GetFile(string path, HttpContext context, ToolchainMirror mirror)
    {
        if (!ToolchainPath.TryParse(path, out var parsed))
        {
            return PlainText.NotFound("not a toolchain path this mirror serves");
        }

        var response = await mirror.OpenAsync(parsed, ClientOf(context), context.RequestAborted);
        TrafficTag.Set(
            context,
            response.Stale ? CacheOutcome.Stale : response.FromUpstream ? CacheOutcome.Miss : CacheOutcome.Hit,
            response.Error);
        return response.Status switch
        {
            ToolchainServeStatus.Found when response.Streaming => new SpooledFileHttpResult(new SpoolRead(response.Content!, response.Length), ContentTypeOf(parsed)),
            ToolchainServeStatus.Found => new ToolchainFileHttpResult(response, ContentTypeOf(parsed)),
            ToolchainServeStatus.NotFound => PlainText.NotFound(response.Error ?? "not found"),
            ToolchainServeStatus.Refused => PlainText.Status(StatusCodes.Status403Forbidden, response.Error ?? "not allowed"),
            ToolchainServeStatus.BadUpstream => PlainText.BadGateway(response.Error ?? "upstream sent a bad file", response.RetryAfter),
            _ => PlainText.Unavailable(response.Error ?? "upstream unavailable", response.RetryAfter),
        };
    }

    /// <summary>Who asks, as far as a manifest pair's generation goes: the address and the user agent (rustup sends no more).</summary>
    private static string? ClientOf(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? $"{address}|{context.Request.Headers.UserAgent}" : null;

    private static string ContentTypeOf(ToolchainPath path) => path.Kind switch
    {
        ToolchainFileKind.Manifest or ToolchainFileKind.RustupRelease => "application/toml",
        ToolchainFileKind.ManifestSha256 or ToolchainFileKind.RustupBinarySha256 or ToolchainFileKind.ArchiveSidecar => "text/plain",
        ToolchainFileKind.ManifestSignature => "application/pgp-signature",
        _ when path.Path.EndsWith(".gz", StringComparison.Ordinal) => "application/gzip",
        _ when path.Path.EndsWith(".xz", StringComparison.Ordinal) => "application/x-xz",
        _ => "application/octet-stream",
    };

    /// <summary>A stored toolchain file; a moving one says its age (<c>Age</c>, and <c>Warning: 110</c> when upstream could not confirm it now).</summary>
    public sealed class ToolchainFileHttpResult(ToolchainResponse file, string contentType) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            await using var _ = file;
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = contentType;
            response.ContentLength = file.Length;
            if (file.ETag is not null)
            {
                response.Headers.ETag = file.ETag;
            }

            if (file.Age is { } age)
            {
                response.Headers.Age = ((long)age.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                response.Headers.CacheControl = "no-cache";
                if (file.Stale)
                {
                    response.Headers["Warning"] = "110 - \"Response is Stale\"";
                    response.Headers["X-Mirror-Stale"] = "true";
                }
            }
            else
            {
                response.Headers.CacheControl = "public, max-age=31536000, immutable";
            }

            if (!HttpMethods.IsHead(httpContext.Request.Method))
            {
                await file.Content!.CopyToAsync(response.Body, 64 * 1024, httpContext.RequestAborted);
            }
        }
    }
}
