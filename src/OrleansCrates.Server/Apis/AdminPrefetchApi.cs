using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Server.Auth;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// <c>POST /admin/api/v1/prefetch</c> (admin scope): warms the mirror with a list of crates.io packages through this
/// node's <see cref="CratePrefetcher"/>, so every file is fetched once across the cluster (the crate grains'
/// single-flight) rather than around it; the CLI's <c>prefetch --server URL</c> sends a lockfile's packages here.
/// Body <c>{"packages":[{"name","version","checksum"}],"concurrency":8}</c>, at most <see cref="MaxBodyBytes"/> and
/// <see cref="MaxPackages"/> packages; the answer is the summary once all are done. Packages outside the token's
/// crate patterns are not fetched and are reported as failed.
/// </summary>
public static class AdminPrefetchApi
{
    public const int MaxBodyBytes = 4 * 1024 * 1024;
    public const int MaxPackages = 20_000;

    public static IEndpointRouteBuilder MapAdminPrefetchApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/admin/api/v1/prefetch", PrefetchAsync).RequireAuthorization(CargoAuth.AdminPolicy);
        return app;
    }

    public static async Task<IResult> PrefetchAsync(HttpContext context, CratePrefetcher prefetcher, CrateAccess access)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }

        PrefetchRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<PrefetchRequest>(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            body = null;
        }

        if (body?.Packages is not { } packages || packages.Any(p => p?.Name is null || p.Version is null))
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, "expected {\"packages\": [{\"name\": CRATE, \"version\": VERSION, \"checksum\": SHA256}], \"concurrency\": N}");
        }

        if (packages.Count > MaxPackages || body.Concurrency is < 1 or > CratePrefetcher.MaxConcurrency)
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, $"at most {MaxPackages} packages, and concurrency 1 to {CratePrefetcher.MaxConcurrency}");
        }

        var wanted = packages.Select(p => new PrefetchPackage(p!.Name!, p.Version!, p.Checksum)).ToList();
        var within = await access.WithinReachAsync(context.User, TokenScope.Admin, wanted, p => p.Name);
        var outside = wanted.Except(within);
        var report = await prefetcher.RunAsync(within, body.Concurrency ?? CratePrefetcher.DefaultConcurrency, onEach: null, context.RequestAborted);
        var failures = report.Failures.Concat(outside.Select(p => new PrefetchResult(p, PrefetchOutcome.Failed, "not within this token's crates")));
        return TypedResults.Json(new PrefetchResponse(
            report.Count(PrefetchOutcome.Fetched),
            report.Count(PrefetchOutcome.AlreadyPresent),
            report.IndexesReady,
            report.IndexesFailed,
            [.. failures.Select(f => new PrefetchFailureJson(f.Package.Name, f.Package.Version, f.Error ?? ""))]));
    }

    public sealed record PrefetchRequest(
        [property: JsonPropertyName("packages")] IReadOnlyList<PackageJson?>? Packages,
        [property: JsonPropertyName("concurrency")] int? Concurrency);

    public sealed record PackageJson(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("checksum")] string? Checksum);

    public sealed record PrefetchResponse(
        [property: JsonPropertyName("fetched")] int Fetched,
        [property: JsonPropertyName("already_present")] int AlreadyPresent,
        [property: JsonPropertyName("indexes_ready")] int IndexesReady,
        [property: JsonPropertyName("indexes_failed")] int IndexesFailed,
        [property: JsonPropertyName("failed")] IReadOnlyList<PrefetchFailureJson> Failed);

    public sealed record PrefetchFailureJson(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("error")] string Error);
}
