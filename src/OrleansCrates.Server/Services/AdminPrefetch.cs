using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansCrates.Accounts;
using OrleansCrates.Mirror;
using OrleansCrates.Server.Auth;

namespace OrleansCrates.Server.Services;

/// <summary>
/// The admin prefetch (<c>POST /admin/api/v1/prefetch</c>, admin scope): warms the mirror with a list of crates.io
/// packages through this node's <see cref="CratePrefetcher"/>, so every file is fetched once across the cluster (the
/// crate grains' single-flight) rather than around it; the CLI's <c>prefetch --server URL</c> sends a lockfile's
/// packages here. Body <c>{"packages":[{"name","version","checksum"}],"concurrency":8}</c>, at most
/// <see cref="MaxBodyBytes"/> and <see cref="MaxPackages"/> packages. Packages outside the token's crate patterns are
/// not fetched and are reported as failed.
/// </summary>
public sealed class AdminPrefetch(CratePrefetcher prefetcher, CrateAccess access)
{
    public const int MaxBodyBytes = 4 * 1024 * 1024;
    public const int MaxPackages = 20_000;

    /// <summary>Reads the request from <paramref name="body"/>, prefetches what is within the caller's reach and sums up once all are done.</summary>
    public async Task<AdminResult<PrefetchSummary>> RunAsync(ClaimsPrincipal admin, Stream body, CancellationToken ct)
    {
        PrefetchRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<PrefetchRequest>(body, cancellationToken: ct);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request?.Packages is not { } packages || packages.Any(p => p?.Name is null || p.Version is null))
        {
            return AdminResult<PrefetchSummary>.BadRequest("expected {\"packages\": [{\"name\": CRATE, \"version\": VERSION, \"checksum\": SHA256}], \"concurrency\": N}");
        }

        if (packages.Count > MaxPackages || request.Concurrency is < 1 or > CratePrefetcher.MaxConcurrency)
        {
            return AdminResult<PrefetchSummary>.BadRequest($"at most {MaxPackages} packages, and concurrency 1 to {CratePrefetcher.MaxConcurrency}");
        }

        var wanted = packages.Select(p => new PrefetchPackage(p!.Name!, p.Version!, p.Checksum)).ToList();
        var within = access.WithinReach(admin, TokenScope.Admin, wanted, p => p.Name);
        var outside = wanted.Except(within);
        var report = await prefetcher.RunAsync(within, request.Concurrency ?? CratePrefetcher.DefaultConcurrency, onEach: null, ct);
        var failures = report.Failures.Concat(outside.Select(p => new PrefetchResult(p, PrefetchOutcome.Failed, "not within this token's crates")));
        return new(AdminStatus.Ok, new PrefetchSummary(
            report.Count(PrefetchOutcome.Fetched),
            report.Count(PrefetchOutcome.AlreadyPresent),
            report.IndexesReady,
            report.IndexesFailed,
            [.. failures]), null);
    }

    public sealed record PrefetchRequest(
        [property: JsonPropertyName("packages")] IReadOnlyList<PackageJson?>? Packages,
        [property: JsonPropertyName("concurrency")] int? Concurrency);

    public sealed record PackageJson(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("checksum")] string? Checksum);
}

/// <summary>What a prefetch did: files fetched and already held, index files readied and failed, and every failed package (its own, or out of reach).</summary>
public sealed record PrefetchSummary(int Fetched, int AlreadyPresent, int IndexesReady, int IndexesFailed, IReadOnlyList<PrefetchResult> Failed);
