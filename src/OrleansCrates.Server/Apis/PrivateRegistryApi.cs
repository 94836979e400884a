using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Http;
using OrleansCrates.Server.Services;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// The private registry: its own index root at <c>/private/index/</c>, never merged with the mirror, and cargo's web
/// API at <c>/private/api/v1/</c> (publish, yank, owners, search).
/// </summary>
public static class PrivateRegistryApi
{
    public static IEndpointRouteBuilder MapPrivateRegistryApi(this IEndpointRouteBuilder app)
    {
        var root = app.MapGroup("/private");
        root.MapGet("/me", Me);

        var reads = root.MapGroup("").RequireTokenWhen(app, IsRestricted);
        reads.MapMethods(DirectIndexRoute.ConfigPath, MirrorApi.GetAndHead, GetConfig).RunOnEventThread(); // the registry reads: short, never blocking
        // Warm paths: singletons taken once here, not from a service scope per request (see MirrorApi).
        var registry = app.ServiceProvider.GetRequiredService<PrivateRegistry>();
        var access = app.ServiceProvider.GetRequiredService<CrateAccess>();
        var options = app.ServiceProvider.GetRequiredService<IOptions<PrivateRegistryOptions>>();
        reads.MapMethods("/index/{**path}", MirrorApi.GetAndHead, (string path, HttpContext context) => GetIndexFile(path, context, registry, access, options)).RunOnEventThread();
        reads.MapMethods("/crates/{name}/{version}/download", MirrorApi.GetAndHead, (string name, string version, HttpContext context) => Download(name, version, context, registry, access, options)).RunOnEventThread();
        reads.MapGet("/api/v1/crates", Search);

        var api = root.MapGroup("/api/v1").AddEndpointFilter(CargoErrors.RetryAfterOnUnavailable);
        var tokens = api.MapGroup("").RequireAuthorization(CargoAuth.TokenPolicy); // what the token may do with the crate is asked per crate
        tokens.MapPut("/crates/new", Publish);
        tokens.MapDelete("/crates/{name}/{version}/yank", (string name, string version, HttpContext c, PrivateRegistryActions a) => SetYankedAsync(name, version, true, c, a));
        tokens.MapPut("/crates/{name}/{version}/unyank", (string name, string version, HttpContext c, PrivateRegistryActions a) => SetYankedAsync(name, version, false, c, a));
        api.MapGet("/crates/{name}/owners", ListOwners);
        tokens.MapPut("/crates/{name}/owners", (string name, [FromBody] OwnersRequest body, HttpContext c, PrivateRegistryActions a) => ChangeOwnersAsync(name, body, add: true, c, a));
        tokens.MapDelete("/crates/{name}/owners", (string name, [FromBody] OwnersRequest body, HttpContext c, PrivateRegistryActions a) => ChangeOwnersAsync(name, body, add: false, c, a));
        api.MapGet("/admin/downloads", ListDownloads).RequireAuthorization(CargoAuth.AdminPolicy);
        tokens.MapPost("/admin/crates/{name}/release", ReleaseName);
        return app;
    }

    private static bool IsRestricted(IServiceProvider services) => services.GetRequiredService<IOptions<PrivateRegistryOptions>>().Value.ReadRequiresToken;

    /// <summary>What <c>cargo login</c> points people at.</summary>
    public static ContentHttpResult Me(HttpRequest request, IOptions<MirrorOptions> mirror)
    {
        var baseUrl = PublicBaseUrl.Of(request, mirror.Value.PublicUrl);
        return TypedResults.Text(
            $"""
            OrleansCrates private registry

            Tokens are issued by an administrator of this registry:
                dotnet run --project src/OrleansCrates.Cli -- token create --user YOUR_LOGIN [--scope publish|read] [--crates PATTERN]
            Then give it to cargo:
                cargo login --registry internal
            with this in .cargo/config.toml:
                [registries.internal]
                index = "sparse+{baseUrl}/private/index/"

            """,
            "text/plain; charset=utf-8");
    }

    public static IndexBytesResult GetConfig(HttpRequest request, IOptions<MirrorOptions> mirror, IOptions<PrivateRegistryOptions> options)
    {
        var baseUrl = PublicBaseUrl.Of(request, mirror.Value.PublicUrl);
        var config = new RegistryConfig($"{baseUrl}/private/crates/{{crate}}/{{version}}/download", $"{baseUrl}/private", options.Value.ReadRequiresToken);
        return new IndexBytesResult(config.ToJsonBytes(), "application/json", stale: null, hostDependent: string.IsNullOrWhiteSpace(mirror.Value.PublicUrl));
    }

    /// <summary>
    /// A private crate's index file. <see cref="IResult"/>, not a <c>Results&lt;...&gt;</c> union, as the mirror's reads
    /// (<see cref="MirrorApi.GetIndexFile"/>): registry reads are the warm path, and a union is one more object per answer.
    /// </summary>
    public static async Task<IResult> GetIndexFile(string path, HttpContext context, PrivateRegistry registry, CrateAccess access, IOptions<PrivateRegistryOptions> options)
    {
        if (!IndexPath.TryParse(path, out var name) || !await access.MayReadAsync(context, options.Value.ReadRequiresToken, name.Value.Value))
        {
            return PlainText.NotFound("not found");
        }

        var file = await registry.GetIndexFileAsync(name.Value, context.RequestAborted);
        return file is null
            ? PlainText.NotFound($"crate '{name}' does not exist")
            : new IndexBytesResult(file.Content, "text/plain", stale: null, file.ETag);
    }

    /// <summary>A private crate file; a HEAD is answered with the file's headers and is not recorded as a download. <see cref="IResult"/> as <see cref="GetIndexFile"/>.</summary>
    public static async Task<IResult> Download(string name, string version, HttpContext context, PrivateRegistry registry, CrateAccess access, IOptions<PrivateRegistryOptions> options)
    {
        if (!CrateName.TryParse(name, out var crate) || !CrateVersion.IsValid(version))
        {
            return PlainText.BadRequest("invalid crate name or version");
        }

        if (!await access.MayReadAsync(context, options.Value.ReadRequiresToken, crate.Value.Value))
        {
            return PlainText.NotFound("not found");
        }

        var lookup = await registry.OpenCrateFileAsync(crate.Value, version, context.RequestAborted);
        if (!lookup.Found)
        {
            await lookup.DisposeAsync();
            return PlainText.NotFound(lookup.Detail ?? "not found");
        }

        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await access.RecordDownloadAsync(context, DownloadRecord.Private, crate.Value.Value, version); // a HEAD is not a download
        }

        return new CrateFileHttpResult(lookup.File, lookup);
    }

    public static async Task<Ok<SearchResponse>> Search(HttpContext context, PrivateRegistryActions actions, string? q, int? per_page)
    {
        var (crates, total) = await actions.SearchAsync(context, q, per_page ?? 10);
        return TypedResults.Ok(new SearchResponse(crates, new SearchMeta(total)));
    }

    public static async Task<Results<Ok<PublishResponse>, JsonHttpResult<CargoErrorBody>>> Publish(HttpContext context, PrivateRegistryActions actions, IOptions<PrivateRegistryOptions> options)
    {
        // The registry checks the declared lengths against its limits (413) before reading either part.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.Value.MaxCrateBytes + options.Value.MaxMetadataBytes + 8;
        }

        var result = await actions.PublishAsync(context.User, context.Request.Body, context.RequestAborted);
        return result.Succeeded ? TypedResults.Ok(new PublishResponse(result.Published.Warnings)) : CargoErrors.Of(result.Error!.Value);
    }

    private static async Task<Results<Ok<OkResponse>, JsonHttpResult<CargoErrorBody>>> SetYankedAsync(string name, string version, bool yanked, HttpContext context, PrivateRegistryActions actions) =>
        Answer(name, await actions.SetYankedAsync(context.User, name, version, yanked, context.RequestAborted), withMessage: false);

    public static async Task<Results<Ok<OwnersResponse>, JsonHttpResult<CargoErrorBody>>> ListOwners(string name, HttpContext context, PrivateRegistryActions actions)
    {
        var owners = await actions.ListOwnersAsync(context, name);
        if (owners is null)
        {
            return CargoErrors.CrateMissing(name);
        }

        return owners.Succeeded
            ? TypedResults.Ok(new OwnersResponse([.. owners.Logins.Select((login, i) => new OwnerUser(i + 1, login, null))]))
            : CargoErrors.Of(owners.Error!.Value);
    }

    private static async Task<Results<Ok<OkResponse>, JsonHttpResult<CargoErrorBody>>> ChangeOwnersAsync(string name, OwnersRequest body, bool add, HttpContext context, PrivateRegistryActions actions) =>
        Answer(name, await actions.ChangeOwnersAsync(context.User, name, body.Users ?? [], add, context.RequestAborted), withMessage: true);

    /// <summary>
    /// Download records of UTC days <c>from</c>–<c>to</c> (<see cref="DayRange"/>), admin scope only, limited to the
    /// crates within the token's patterns: a pattern-limited admin sees the records of its crates and no others.
    /// </summary>
    public static async Task<Results<Ok<DownloadsResponse>, JsonHttpResult<CargoErrorBody>>> ListDownloads(HttpContext context, AdminQueries queries, string? from, string? to, string? user, string? crate)
    {
        var result = await queries.ListDownloadsAsync(context.User, from, to, user, crate, context.RequestAborted);
        return result.Status == AdminStatus.Ok
            ? TypedResults.Ok(new DownloadsResponse(result.Value!))
            : CargoErrors.Status(StatusCodes.Status400BadRequest, result.Detail!);
    }

    /// <summary>
    /// <c>POST /private/api/v1/admin/crates/{name}/release[?delete_versions=true]</c>: an admin token (for that name)
    /// gives a private name back, so the mirror serves the public crate of that name again
    /// (<see cref="PrivateRegistry.ReleaseNameAsync"/>; 409 for a name with versions unless they are to be deleted).
    /// </summary>
    public static async Task<Results<Ok<OkResponse>, JsonHttpResult<CargoErrorBody>>> ReleaseName(string name, HttpContext context, PrivateRegistryActions actions, bool? delete_versions) =>
        Answer(name, await actions.ReleaseNameAsync(context.User, name, delete_versions ?? false, context.RequestAborted), withMessage: true);

    /// <summary>An action on one crate as cargo reads it: <c>{"ok":true}</c>, the registry's refusal, or 404 for a crate that does not exist for this caller.</summary>
    private static Results<Ok<OkResponse>, JsonHttpResult<CargoErrorBody>> Answer(string name, CrateAction action, bool withMessage) => action.Status switch
    {
        CrateActionStatus.Done => TypedResults.Ok(new OkResponse(true, withMessage ? action.Message : null)),
        CrateActionStatus.Refused => CargoErrors.Of(action.Error!.Value),
        _ => CargoErrors.CrateMissing(name),
    };

    public sealed record DownloadsResponse([property: JsonPropertyName("downloads")] IReadOnlyList<DownloadRecord> Downloads);

    public sealed record OwnersRequest([property: JsonPropertyName("users")] IReadOnlyList<string>? Users);

    public sealed record OwnerUser([property: JsonPropertyName("id")] int Id, [property: JsonPropertyName("login")] string Login, [property: JsonPropertyName("name")] string? Name);

    public sealed record OwnersResponse([property: JsonPropertyName("users")] IReadOnlyList<OwnerUser> Users);

    public sealed record OkResponse(
        [property: JsonPropertyName("ok")] bool Ok,
        [property: JsonPropertyName("msg"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Msg);

    public sealed record PublishResponse([property: JsonPropertyName("warnings")] PublishWarnings Warnings);

    public sealed record SearchResponse([property: JsonPropertyName("crates")] IReadOnlyList<CrateSummary> Crates, [property: JsonPropertyName("meta")] SearchMeta Meta);

    public sealed record SearchMeta([property: JsonPropertyName("total")] int Total);
}
