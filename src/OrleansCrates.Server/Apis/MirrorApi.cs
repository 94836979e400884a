using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Protocol;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Http;
using OrleansCrates.Server.Operations.Statistics;
using OrleansCrates.Server.Services;
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
        var mirror = app.MapGroup("").RequireTokenWhen(app, IsRestricted).RunOnEventThread(); // a warm hit never blocks
        mirror.MapMethods(DirectIndexRoute.ConfigPath, GetAndHead, GetConfig);

        // The warm path: its services are singletons, taken once here rather than from each request's service scope
        // (a parameter of a service type would create that scope for every request, about a tenth of an index hit).
        var services = app.ServiceProvider;
        var coordinator = services.GetRequiredService<CrateCoordinator>();
        var downloads = services.GetRequiredService<CrateDownloads>();
        var reads = services.GetRequiredService<MirrorReads>();
        var prefetch = services.GetRequiredService<DependencyIndexPrefetch>();
        mirror.MapMethods(DirectIndexRoute.Pattern, GetAndHead, (string path, HttpContext context) => GetIndexFile(path, context, coordinator, reads, prefetch));
        mirror.MapMethods(DownloadRoute, GetAndHead, (string name, string version, HttpContext context) => Download(name, version, context, downloads, reads));
        return app;
    }

    private static bool IsRestricted(IServiceProvider services) => services.GetRequiredService<IOptions<MirrorOptions>>().Value.ReadRequiresToken;

    /// <summary>config.json: downloads come back to this mirror, under the same host as the index.</summary>
    public static IndexBytesResult GetConfig(HttpRequest request, IOptions<MirrorOptions> options)
    {
        var baseUrl = PublicBaseUrl.Of(request, options.Value.PublicUrl);
        var config = new RegistryConfig($"{baseUrl}/crates/{{crate}}/{{version}}/download", AuthRequired: options.Value.ReadRequiresToken);
        return new IndexBytesResult(config.ToJsonBytes(), "application/json", stale: null, hostDependent: string.IsNullOrWhiteSpace(options.Value.PublicUrl));
    }

    /// <summary>
    /// A crate's index file, as the read rules (<see cref="MirrorReads"/>) and the policy let this caller see it.
    /// Returns <see cref="IResult"/>, not a <c>Results&lt;...&gt;</c> union, on purpose: this is the warm path (an index
    /// file already in memory), and a union would wrap every answer in one more object per request.
    /// </summary>
    public static async Task<IResult> GetIndexFile(string path, HttpContext context, CrateCoordinator coordinator, MirrorReads reads, DependencyIndexPrefetch prefetch)
    {
        if (!IndexPath.TryParse(path, out var parsed))
        {
            return PlainText.NotFound("not a crate index path");
        }

        var name = parsed.Value;
        var decision = await reads.CheckAsync(context, name, version: null);
        if (decision.Outcome != MirrorReadOutcome.Allowed)
        {
            return Refusal(decision, name, version: null);
        }

        var result = await coordinator.GetIndexAsync(name, context.RequestAborted);
        TrafficTag.Set(context, result.Outcome, result.Error);
        prefetch.After(result);
        return result.Status switch
        {
            IndexStatus.Found => await reads.VisibleIndexAsync(context, name, result.Entry!) is { AnyVisible: true } served
                ? new IndexBytesResult(served.Body, "text/plain", result.IsStale ? result.Age : null, served.ETag)
                : PlainText.NotFound($"no version of '{name}' is served by this mirror's policy (yet)"),
            IndexStatus.NotFound => PlainText.NoSuchCrateUpstream(name),
            _ => PlainText.Unavailable($"upstream unavailable and '{name}' is not cached: {result.Error}", result.RetryAfter),
        };
    }

    /// <summary>
    /// A crate file: from storage, else fetched upstream (once per cluster) and stored if its sha256 matches. HEAD never
    /// starts a download: it answers from storage alone (see <see cref="HeadOfStoredFile"/>). <see cref="IResult"/> for
    /// the reason <see cref="GetIndexFile"/> gives: a download already in memory is the warm path too.
    /// </summary>
    public static async Task<IResult> Download(string name, string version, HttpContext context, CrateDownloads downloads, MirrorReads reads)
    {
        if (!CrateName.TryParse(name, out var parsed))
        {
            return PlainText.BadRequest("invalid crate name");
        }

        if (!CrateVersion.IsValid(version))
        {
            return PlainText.BadRequest("invalid version");
        }

        var crate = parsed.Value;
        var decision = await reads.CheckAsync(context, crate, version);
        if (decision.Outcome != MirrorReadOutcome.Allowed)
        {
            return Refusal(decision, crate, version);
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return HeadOfStoredFile(await reads.StoredFileOrNullAsync(crate, version, context.RequestAborted));
        }

        var result = await downloads.GetAsync(crate, version, context.RequestAborted);
        TrafficTag.Set(context, result.Outcome, result.Error);
        if (result.Status == CrateFileStatus.Found)
        {
            await reads.RecordDownloadAsync(context, crate, version);
        }

        return result.Status switch
        {
            CrateFileStatus.Found when result.Streaming is { } live => new SpooledFileHttpResult(live, "application/gzip", FileKind.Crate),
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
    /// A refused read. Out of reach: 404 as for any unknown crate. Hidden by the policy: 404 naming the policy (upstream
    /// was not asked). A refused version: 403 with the policy's reason. A name a private crate holds: exactly upstream's
    /// "no such crate" (the index's words, or the download's).
    /// </summary>
    private static ContentHttpResult Refusal(MirrorReadDecision decision, CrateName name, string? version) => decision.Outcome switch
    {
        MirrorReadOutcome.OutOfReach => PlainText.NotFound("not found"),
        MirrorReadOutcome.HiddenByPolicy => PlainText.NotFound($"'{name}' is not served by this mirror's policy"),
        MirrorReadOutcome.Forbidden => PlainText.Status(StatusCodes.Status403Forbidden, MirrorPolicy.Explain(decision.Verdict, name, version!)),
        _ => version is null ? PlainText.NoSuchCrateUpstream(name) : PlainText.NoSuchCrateDownload(name),
    };

    /// <summary>
    /// HEAD of a download, from storage alone: a held file answers as GET would (200, exact Content-Length, ETag,
    /// Cache-Control) without a body; a file this mirror does not hold yet answers 404 with <c>Cache-Control:
    /// no-store</c> and <c>X-Mirror-Cached: false</c> — a HEAD never makes the mirror download, and no cache keeps that
    /// answer (a GET fetches the file as usual).
    /// </summary>
    public static IResult HeadOfStoredFile(ObjectProperties? properties)
    {
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
