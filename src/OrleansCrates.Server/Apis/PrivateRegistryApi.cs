using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Core;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Hosting;

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
        reads.MapMethods("/index/config.json", MirrorApi.GetAndHead, GetConfig);
        reads.MapMethods("/index/{**path}", MirrorApi.GetAndHead, GetIndexFile);
        reads.MapMethods("/crates/{name}/{version}/download", MirrorApi.GetAndHead, Download);
        reads.MapGet("/api/v1/crates", Search);

        var api = root.MapGroup("/api/v1");
        api.MapPut("/crates/new", Publish);
        api.MapDelete("/crates/{name}/{version}/yank", (string name, string version, HttpContext c, PrivateRegistry r, RegistryAccess a) => SetYankedAsync(name, version, true, c, r, a));
        api.MapPut("/crates/{name}/{version}/unyank", (string name, string version, HttpContext c, PrivateRegistry r, RegistryAccess a) => SetYankedAsync(name, version, false, c, r, a));
        api.MapGet("/crates/{name}/owners", ListOwners);
        api.MapPut("/crates/{name}/owners", (string name, [FromBody] OwnersRequest body, HttpContext c, PrivateRegistry r, RegistryAccess a) => ChangeOwnersAsync(name, body, add: true, c, r, a));
        api.MapDelete("/crates/{name}/owners", (string name, [FromBody] OwnersRequest body, HttpContext c, PrivateRegistry r, RegistryAccess a) => ChangeOwnersAsync(name, body, add: false, c, r, a));
        api.MapGet("/admin/downloads", ListDownloads);
        api.MapPost("/admin/crates/{name}/release", ReleaseName);
        return app;
    }

    private static bool IsRestricted(IServiceProvider services) => services.GetRequiredService<IOptions<PrivateRegistryOptions>>().Value.ReadRequiresToken;

    /// <summary>What <c>cargo login</c> points people at.</summary>
    public static IResult Me(HttpRequest request, IOptions<MirrorOptions> mirror)
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

    public static IResult GetConfig(HttpRequest request, IOptions<MirrorOptions> mirror, IOptions<PrivateRegistryOptions> options)
    {
        var baseUrl = PublicBaseUrl.Of(request, mirror.Value.PublicUrl);
        var config = new RegistryConfig($"{baseUrl}/private/crates/{{crate}}/{{version}}/download", $"{baseUrl}/private", options.Value.ReadRequiresToken);
        return new IndexBytesResult(config.ToJsonBytes(), "application/json", stale: null, hostDependent: string.IsNullOrWhiteSpace(mirror.Value.PublicUrl));
    }

    public static async Task<IResult> GetIndexFile(string path, HttpContext context, PrivateRegistry registry, RegistryAccess access, IOptions<PrivateRegistryOptions> options)
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

    public static async Task<IResult> Download(string name, string version, HttpContext context, PrivateRegistry registry, RegistryAccess access, IOptions<PrivateRegistryOptions> options)
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

    public static async Task<IResult> Search(HttpContext context, PrivateRegistry registry, RegistryAccess access, IOptions<PrivateRegistryOptions> options, string? q, int? per_page)
    {
        var result = await registry.SearchAsync(q, per_page ?? 10, context.RequestAborted);
        var caller = await access.CallerOrNullAsync(context);
        var visible = options.Value.ReadRequiresToken
            ? result.Crates.Where(c => caller is not null && access.Policy.CanRead(caller, c.Name)).ToList()
            : result.Crates;
        var total = options.Value.ReadRequiresToken ? visible.Count : result.Total;
        return TypedResults.Json(new SearchResponse(visible, new SearchMeta(total)));
    }

    public static async Task<IResult> Publish(HttpContext context, PrivateRegistry registry, RegistryAccess access, PublicNameGuard names, IOptions<PrivateRegistryOptions> options)
    {
        var caller = await access.CallerOrNullAsync(context);
        if (caller is null)
        {
            return TokenProblem(context);
        }

        // The registry checks the declared lengths against its limits (413) before reading either part.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.Value.MaxCrateBytes + options.Value.MaxMetadataBytes + 8;
        }

        // Scope and crate patterns can only be checked once the name is read from the body: the registry asks.
        var result = await registry.PublishAsync(
            caller.User,
            context.Request.Body,
            crate => access.Policy.CanPublish(caller, crate) ? null : RegistryError.Forbidden($"this token may not publish `{crate}` (scope {TokenStore.ScopeName(caller.Scope)})"),
            (crate, ct) => names.RefusalOrNullAsync(caller, crate, ct),
            context.RequestAborted);
        if (!result.Succeeded)
        {
            return CargoErrors.Of(result.Error!.Value);
        }

        return TypedResults.Json(new PublishResponse(result.Published.Warnings));
    }

    private static async Task<IResult> SetYankedAsync(string name, string version, bool yanked, HttpContext context, PrivateRegistry registry, RegistryAccess access)
    {
        var (caller, crate, denied) = await PublisherAsync(context, access, name);
        if (denied is not null)
        {
            return denied;
        }

        var outcome = await registry.YankAsync(caller!.User, access.Policy.IsAdminOf(caller, crate.Value), crate, version, yanked, context.RequestAborted);
        return outcome.Succeeded ? TypedResults.Json(new OkResponse(true, null)) : CargoErrors.Of(outcome.Error!.Value);
    }

    public static async Task<IResult> ListOwners(string name, HttpContext context, PrivateRegistry registry, RegistryAccess access, IOptions<PrivateRegistryOptions> options)
    {
        if (!CrateName.TryParse(name, out var crate) || !await access.MayReadAsync(context, options.Value.ReadRequiresToken, name))
        {
            return CargoErrors.Status(StatusCodes.Status404NotFound, $"crate `{name}` does not exist");
        }

        var owners = await registry.ListOwnersAsync(crate.Value, context.RequestAborted);
        return owners.Succeeded
            ? TypedResults.Json(new OwnersResponse([.. owners.Logins.Select((login, i) => new OwnerUser(i + 1, login, null))]))
            : CargoErrors.Of(owners.Error!.Value);
    }

    private static async Task<IResult> ChangeOwnersAsync(string name, OwnersRequest body, bool add, HttpContext context, PrivateRegistry registry, RegistryAccess access)
    {
        var (caller, crate, denied) = await PublisherAsync(context, access, name);
        if (denied is not null)
        {
            return denied;
        }

        var logins = body.Users ?? [];
        var isAdmin = access.Policy.IsAdminOf(caller!, crate.Value);
        var outcome = add
            ? await registry.AddOwnersAsync(caller!.User, isAdmin, crate, logins, context.RequestAborted)
            : await registry.RemoveOwnersAsync(caller!.User, isAdmin, crate, logins, context.RequestAborted);
        return outcome.Succeeded ? TypedResults.Json(new OkResponse(true, outcome.Message)) : CargoErrors.Of(outcome.Error!.Value);
    }

    /// <summary>
    /// Download records of UTC days <c>from</c>–<c>to</c> (<see cref="DayRange"/>), admin scope only, limited to the
    /// crates within the token's patterns: a pattern-limited admin sees the records of its crates and no others.
    /// </summary>
    public static async Task<IResult> ListDownloads(HttpContext context, RegistryAccess access, DownloadLog downloads, TimeProvider time, string? from, string? to, string? user, string? crate)
    {
        var authorization = await access.AuthorizeAsync(context, TokenScope.Admin, crate: null);
        if (AccessAnswers.RefusalOrNull(context, authorization, TokenScope.Admin, () => AccessAnswers.CrateMissing(crate ?? "")) is { } refused)
        {
            return refused;
        }

        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        if (!DayRange.TryParse(from, to, today, out var range, out var error))
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, error);
        }

        var caller = authorization.Caller!;
        var records = new List<DownloadRecord>();
        await foreach (var record in downloads.QueryAsync(range.First, range.Last, user, crate, context.RequestAborted))
        {
            if (access.Policy.Covers(caller, record.Crate))
            {
                records.Add(record);
            }
        }

        return TypedResults.Json(new { downloads = records });
    }

    /// <summary>
    /// <c>POST /private/api/v1/admin/crates/{name}/release[?delete_versions=true]</c>: an admin token (for that name)
    /// gives a private name back, so the mirror serves the public crate of that name again
    /// (<see cref="PrivateRegistry.ReleaseNameAsync"/>; 409 for a name with versions unless they are to be deleted).
    /// </summary>
    public static async Task<IResult> ReleaseName(string name, HttpContext context, PrivateRegistry registry, RegistryAccess access, bool? delete_versions)
    {
        var authorization = await access.AuthorizeAsync(context, TokenScope.Admin, name);
        if (AccessAnswers.RefusalOrNull(context, authorization, TokenScope.Admin, () => AccessAnswers.CrateMissing(name)) is { } refused)
        {
            return refused;
        }

        if (!CrateName.TryParse(name, out var crate))
        {
            return AccessAnswers.CrateMissing(name);
        }

        var outcome = await registry.ReleaseNameAsync(crate.Value, delete_versions ?? false, context.RequestAborted);
        return outcome.Succeeded ? TypedResults.Json(new OkResponse(true, outcome.Message)) : CargoErrors.Of(outcome.Error!.Value);
    }

    /// <summary>
    /// The caller and crate of a yank or owners call: a token allowed to act on this crate (the registry then checks
    /// ownership), and a valid crate name; otherwise the answer to give.
    /// </summary>
    private static async Task<(TokenInfo? Caller, CrateName Crate, IResult? Denied)> PublisherAsync(HttpContext context, RegistryAccess access, string name)
    {
        // Outside the token's patterns (any scope, admin included) the crate does not exist for this caller.
        var authorization = await access.AuthorizeAsync(context, TokenScope.Publish, name);
        if (AccessAnswers.RefusalOrNull(context, authorization, TokenScope.Publish, () => AccessAnswers.CrateMissing(name)) is { } refused)
        {
            return (authorization.Caller, default, refused);
        }

        return CrateName.TryParse(name, out var crate)
            ? (authorization.Caller, crate.Value, null)
            : (authorization.Caller, default, AccessAnswers.CrateMissing(name));
    }

    /// <summary>No token, or one that is unknown or revoked: cargo shows this detail.</summary>
    private static IResult TokenProblem(HttpContext context) =>
        string.IsNullOrEmpty(context.Request.Headers.Authorization)
            ? CargoErrors.Unauthorized(context, "this action requires a token")
            : CargoErrors.Forbidden("invalid or revoked token");

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
