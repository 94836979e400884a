using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Http;
using OrleansCrates.Server.Operations.Statistics;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Apis;

/// <summary>The crates.io mirror as cargo sees it: a sparse index at <c>/index/</c> and the downloads its <c>dl</c> names.</summary>
public static class MirrorApi
{
    public const string DownloadRoute = "/crates/{name}/{version}/download";

    /// <summary>Registry reads answer HEAD as GET without a body (CDNs and probes use it).</summary>
    public static readonly string[] GetAndHead = [HttpMethods.Get, HttpMethods.Head];

    public static IEndpointRouteBuilder MapMirrorApi(this IEndpointRouteBuilder app)
    {
        var mirror = app.MapGroup("").RequireTokenWhen(app, IsRestricted);
        mirror.MapMethods("/index/config.json", GetAndHead, GetConfig);
        mirror.MapMethods("/index/{**path}", GetAndHead, GetIndexFile);
        mirror.MapMethods(DownloadRoute, GetAndHead, Download);
        return app;
    }

    private static bool IsRestricted(IServiceProvider services) => services.GetRequiredService<IOptions<MirrorOptions>>().Value.ReadRequiresToken;

    /// <summary>config.json: downloads come back to this mirror, under the same host as the index.</summary>
    public static IResult GetConfig(HttpRequest request, IOptions<MirrorOptions> options)
    {
        var baseUrl = PublicBaseUrl.Of(request, options.Value.PublicUrl);
        var config = new RegistryConfig($"{baseUrl}/crates/{{crate}}/{{version}}/download", AuthRequired: options.Value.ReadRequiresToken);
        return new IndexBytesResult(config.ToJsonBytes(), "application/json", stale: null, hostDependent: string.IsNullOrWhiteSpace(options.Value.PublicUrl));
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

        // Where upstream would be asked: a name a private crate holds gets exactly upstream's "no such crate".
        if (await guard.IsShadowedAsync(context, name.Value))
        {
            return PlainText.NoSuchCrateUpstream(name.Value);
        }

        var result = await coordinator.GetIndexAsync(name.Value, context.RequestAborted);
        TrafficTag.Set(context, result.Outcome, result.Error);
        return result.Status switch
        {
            IndexStatus.Found => await guard.PolicyIndexAsync(context, name.Value, result),
            IndexStatus.NotFound => PlainText.NoSuchCrateUpstream(name.Value),
            _ => PlainText.Unavailable($"upstream unavailable and '{name}' is not cached: {result.Error}", result.RetryAfter),
        };
    }

    /// <summary>
    /// A crate file: from storage, else fetched upstream (once per cluster) and stored if its sha256 matches. HEAD never
    /// starts a download: it answers from storage alone (see <see cref="HeadOfStoredFileAsync"/>).
    /// </summary>
    public static async Task<IResult> Download(string name, string version, HttpContext context, CrateDownloads downloads, MirrorGuard guard, CrateAccess access, IObjectStore store)
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

        if (await guard.IsShadowedAsync(context, crate.Value))
        {
            return PlainText.NoSuchCrateDownload(crate.Value);
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return await HeadOfStoredFileAsync(store, crate.Value, version, context.RequestAborted);
        }

        var result = await downloads.GetAsync(crate.Value, version, context.RequestAborted);
        TrafficTag.Set(context, result.Outcome, result.Error);
        if (result.Status == CrateFileStatus.Found)
        {
            await access.RecordDownloadAsync(context, DownloadRecord.Mirror, crate.Value.Value, version);
        }

        return result.Status switch
        {
            CrateFileStatus.Found when result.Streaming is { } live => new SpooledFileHttpResult(live, "application/gzip"),
            CrateFileStatus.Found when result.Location is { } location => new StorageRedirectResult(location),
            CrateFileStatus.Found => new CrateFileHttpResult(result.File!, result),
            CrateFileStatus.NotFound => PlainText.NotFound(result.Error ?? "not found"),
            CrateFileStatus.IndexUnavailable or CrateFileStatus.OwnerUnavailable => PlainText.Unavailable(result.Error ?? "upstream unavailable", result.RetryAfter),
            CrateFileStatus.StorageUnavailable => PlainText.Unavailable(result.Error ?? "storage unavailable", result.RetryAfter),
            // Nothing was stored; cargo retries a 502 and the next request fetches again.
            _ => PlainText.BadGateway(result.Error ?? "upstream failed", result.RetryAfter),
        };
    }

    /// <summary>
    /// HEAD of a download, from storage alone: a held file answers as GET would (200, exact Content-Length, ETag,
    /// Cache-Control) without a body; a file this mirror does not hold yet answers 404 with <c>Cache-Control:
    /// no-store</c> and <c>X-Mirror-Cached: false</c> — a HEAD never makes the mirror download, and no cache keeps that
    /// answer (a GET fetches the file as usual).
    /// </summary>
    public static async Task<IResult> HeadOfStoredFileAsync(IObjectStore store, CrateName crate, string version, CancellationToken cancellationToken)
    {
        var properties = await store.GetPropertiesOrNullAsync(MirrorKeys.CrateFile(crate, version), cancellationToken);
        if (properties is null)
        {
            return new NotHeldResult();
        }

        var headers = new StoredObject(Stream.Null, properties.Length, properties.ETag, properties.LastModified);
        return new CrateFileHttpResult(headers, headers);
    }

    private sealed class NotHeldResult : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status404NotFound;
            httpContext.Response.Headers.CacheControl = "no-store";
            httpContext.Response.Headers["X-Mirror-Cached"] = "false";
            return Task.CompletedTask;
        }
    }
}
