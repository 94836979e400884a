using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.Server.Apis;

/// <summary>The crates.io mirror as cargo sees it: a sparse index at <c>/index/</c> and the downloads its <c>dl</c> names.</summary>
public static class MirrorApi
{
    public const string DownloadRoute = "/crates/{name}/{version}/download";

    public static IEndpointRouteBuilder MapMirrorApi(this IEndpointRouteBuilder app)
    {
        var mirror = app.MapGroup("").RequireTokenWhen(app, IsRestricted);
        mirror.MapGet("/index/config.json", GetConfig);
        mirror.MapGet("/index/{**path}", GetIndexFile);
        mirror.MapGet(DownloadRoute, Download);
        return app;
    }

    private static bool IsRestricted(IServiceProvider services) => services.GetRequiredService<IOptions<MirrorOptions>>().Value.ReadRequiresToken;

    /// <summary>config.json: downloads come back to this mirror, under the same host as the index.</summary>
    public static IResult GetConfig(HttpRequest request, IOptions<MirrorOptions> options)
    {
        var baseUrl = PublicBaseUrl.Of(request, options.Value.PublicUrl);
        var config = new RegistryConfig($"{baseUrl}/crates/{{crate}}/{{version}}/download", AuthRequired: options.Value.ReadRequiresToken);
        return new IndexBytesResult(config.ToJsonBytes(), "application/json", stale: null);
    }

    public static async Task<IResult> GetIndexFile(string path, HttpContext context, CrateCoordinator coordinator, MirrorGuard guard)
    {
        if (!IndexPath.TryParse(path, out var name))
        {
            return PlainText.NotFound("not a crate index path");
        }

        if (await guard.RefusalOrNullAsync(context, name.Value) is { } refused)
        {
            return refused;
        }

        if (guard.PolicyHidesCrateOrNull(name.Value) is { } hidden)
        {
            return hidden;
        }

        var result = await coordinator.GetIndexAsync(name.Value, context.RequestAborted);
        Statistics.TrafficTag.Set(context, result.Outcome, result.Error);
        return result.Status switch
        {
            IndexStatus.Found => await guard.PolicyIndexAsync(context, name.Value, result),
            IndexStatus.NotFound => PlainText.NotFound($"crate '{name}' does not exist upstream"),
            _ => PlainText.Unavailable($"upstream unavailable and '{name}' is not cached: {result.Error}", result.RetryAfter),
        };
    }

    public static async Task<IResult> Download(string name, string version, HttpContext context, CrateCoordinator coordinator, MirrorGuard guard, RegistryAccess access)
    {
        if (!CrateName.TryParse(name, out var crate))
        {
            return PlainText.BadRequest("invalid crate name");
        }

        if (!CrateVersion.IsValid(version))
        {
            return PlainText.BadRequest("invalid version");
        }

        if (await guard.RefusalOrNullAsync(context, crate.Value) is { } refused)
        {
            return refused;
        }

        if (await guard.PolicyRefusalOrNullAsync(context, crate.Value, version) is { } blocked)
        {
            return blocked;
        }

        var result = await coordinator.OpenCrateFileAsync(crate.Value, version, context.RequestAborted);
        Statistics.TrafficTag.Set(context, result.Outcome, result.Error);
        if (result.Status == CrateFileStatus.Found)
        {
            await access.RecordDownloadAsync(context, DownloadRecord.Mirror, crate.Value.Value, version);
        }

        return result.Status switch
        {
            CrateFileStatus.Found => new CrateFileHttpResult(result.File!, result),
            CrateFileStatus.NotFound => PlainText.NotFound(result.Error ?? "not found"),
            CrateFileStatus.IndexUnavailable or CrateFileStatus.OwnerUnavailable => PlainText.Unavailable(result.Error ?? "upstream unavailable", result.RetryAfter),
            // Nothing was stored; cargo retries a 502 and the next request fetches again.
            _ => PlainText.BadGateway(result.Error ?? "upstream failed", result.RetryAfter),
        };
    }
}
