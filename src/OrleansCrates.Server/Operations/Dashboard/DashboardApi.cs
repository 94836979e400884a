using System.Collections.Frozen;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Server.Apis;
using OrleansCrates.Server.Http;

namespace OrleansCrates.Server.Operations.Dashboard;

/// <summary>
/// The web dashboard at <c>/</c>: one static page, its stylesheet and script, embedded in this assembly (no CDN, no
/// files on disk). The page reads <c>/health/ready</c>, <c>/api/v1/stats</c>, <c>/mirrors.json</c> and
/// <c>/api/v1/cluster</c> (the silos and their crate grains) and draws its
/// charts itself (inline SVG).
/// </summary>
public static class DashboardApi
{
    private const string ResourcePrefix = "OrleansCrates.Server.Operations.Dashboard.Assets.";

    private static readonly FrozenDictionary<string, (byte[] Body, string ContentType, string ETag)> Assets = LoadAssets();

    public static IEndpointRouteBuilder MapDashboardApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", Page);
        app.MapGet("/dashboard/{file}", Asset);
        return app;
    }

    /// <summary>The page, with this node's public base URL filled into the cargo configuration snippet.</summary>
    public static ContentHttpResult Page(HttpRequest request, IOptions<MirrorOptions> options)
    {
        var (body, _, _) = Assets["index.html"];
        var baseUrl = PublicBaseUrl.Of(request, options.Value.PublicUrl);
        var html = Encoding.UTF8.GetString(body).Replace("{{BASE_URL}}", WebUtility.HtmlEncode(baseUrl), StringComparison.Ordinal);
        request.HttpContext.Response.Headers.CacheControl = "no-cache";
        return TypedResults.Text(html, "text/html; charset=utf-8");
    }

    public static Results<DashboardAssetResult, ContentHttpResult> Asset(string file)
    {
        if (file == "index.html" || !Assets.TryGetValue(file, out var asset))
        {
            return PlainText.NotFound("no such dashboard file");
        }

        return new DashboardAssetResult(asset.Body, asset.ContentType, asset.ETag);
    }

    private static FrozenDictionary<string, (byte[], string, string)> LoadAssets()
    {
        var assembly = typeof(DashboardApi).Assembly;
        var assets = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var file = name[ResourcePrefix.Length..];
            var type = Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            var body = copy.ToArray();
            assets[file] = (body, type, Protocol.StrongETag.Of(body));
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>A dashboard file, revalidated on every load (<c>no-cache</c> + ETag), so a new version shows at once.</summary>
    public sealed class DashboardAssetResult(byte[] body, string contentType, string etag) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.Headers.CacheControl = "no-cache";
            return new IndexBytesResult(body, contentType, stale: null, etag).ExecuteAsync(httpContext);
        }
    }
}
