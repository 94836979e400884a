using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Cli;

/// <summary>
/// The admin API of a running node (<c>--server URL</c>), so that decisions and prefetches go through the cluster:
/// approvals at <c>/admin/api/v1/approvals</c>, prefetch at <c>/admin/api/v1/prefetch</c>. Errors come back as
/// <see cref="AdminCallException"/> with the server's own <c>{"errors":[{"detail"}]}</c> text. A typed client of
/// <see cref="IHttpClientFactory"/> (<see cref="AddAdminClient"/>): the base URL, the bearer token and
/// <see cref="Timeout"/> are set where it is registered.
/// </summary>
internal sealed class AdminClient(HttpClient http) : IDisposable
{
    /// <summary>The longest one call may take: a prefetch of a big lockfile is one request that lasts until every file is in.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromHours(1);

    private ServiceProvider? _services;

    public Uri Server => http.BaseAddress!;

    /// <summary>The CLI's container for <c>--server</c>: <see cref="IHttpClientFactory"/> with the typed <see cref="AdminClient"/>.</summary>
    public static AdminClient Create(Uri server, string token)
    {
        var services = new ServiceCollection().AddAdminClient(server, token).BuildServiceProvider();
        var client = services.GetRequiredService<AdminClient>();
        client._services = services;
        return client;
    }

    public Task<ApprovalsJson> GetApprovalsAsync(CancellationToken ct) => SendAsync<ApprovalsJson>(HttpMethod.Get, "admin/api/v1/approvals", null, ct);

    public Task<DecisionJson> DecideAsync(string verb, string name, string req, CancellationToken ct) =>
        SendAsync<DecisionJson>(HttpMethod.Post, $"admin/api/v1/approvals/{verb}", new { name, req }, ct);

    public Task<AuditJson> GetAuditAsync(DateOnly from, DateOnly to, CancellationToken ct) =>
        SendAsync<AuditJson>(HttpMethod.Get, $"admin/api/v1/approvals/audit?from={from:yyyy-MM-dd}&to={to:yyyy-MM-dd}", null, ct);

    public Task<PrefetchJson> PrefetchAsync(IEnumerable<object> packages, int concurrency, CancellationToken ct) =>
        SendAsync<PrefetchJson>(HttpMethod.Post, "admin/api/v1/prefetch", new { packages, concurrency }, ct);

    public void Dispose() => _services?.Dispose();

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            var errors = await ReadOrNullAsync<ErrorsJson>(response, ct);
            throw new AdminCallException($"{Server} answered {(int)response.StatusCode}: {errors?.Errors?.FirstOrDefault()?.Detail ?? response.ReasonPhrase}");
        }

        return await ReadOrNullAsync<T>(response, ct) ?? throw new AdminCallException($"{Server} answered {path} with no usable JSON");
    }

    private static async Task<T?> ReadOrNullAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(ct);
        }
        catch (System.Text.Json.JsonException)
        {
            return default;
        }
    }

    public sealed record ErrorsJson([property: JsonPropertyName("errors")] IReadOnlyList<ErrorJson>? Errors);

    public sealed record ErrorJson([property: JsonPropertyName("detail")] string? Detail);

    public sealed record ApprovalsJson(
        [property: JsonPropertyName("pending")] IReadOnlyList<PendingJson> Pending,
        [property: JsonPropertyName("decisions")] IReadOnlyList<RuleJson> Decisions);

    public sealed record PendingJson(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("requested_by")] string RequestedBy,
        [property: JsonPropertyName("requested_at")] DateTimeOffset RequestedAt,
        [property: JsonPropertyName("versions")] IReadOnlyList<string> Versions,
        [property: JsonPropertyName("waiting")] IReadOnlyList<string> Waiting);

    public sealed record RuleJson(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("req")] string Req,
        [property: JsonPropertyName("decision")] string Decision,
        [property: JsonPropertyName("by")] string By,
        [property: JsonPropertyName("at")] DateTimeOffset At);

    public sealed record DecisionJson(
        [property: JsonPropertyName("decision")] RuleJson Decision,
        [property: JsonPropertyName("replaced")] RuleJson? Replaced);

    public sealed record AuditJson([property: JsonPropertyName("audit")] IReadOnlyList<AuditEntryJson> Audit);

    public sealed record AuditEntryJson(
        [property: JsonPropertyName("at")] DateTimeOffset At,
        [property: JsonPropertyName("by")] string By,
        [property: JsonPropertyName("decision")] string Decision,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("req")] string Req,
        [property: JsonPropertyName("replaced")] string? Replaced);

    public sealed record PrefetchJson(
        [property: JsonPropertyName("fetched")] int Fetched,
        [property: JsonPropertyName("already_present")] int AlreadyPresent,
        [property: JsonPropertyName("indexes_ready")] int IndexesReady,
        [property: JsonPropertyName("indexes_failed")] int IndexesFailed,
        [property: JsonPropertyName("failed")] IReadOnlyList<FailureJson> Failed);

    public sealed record FailureJson(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("error")] string Error);
}

internal static class AdminClientRegistration
{
    /// <summary>Registers <see cref="AdminClient"/> as a typed client for <paramref name="server"/>, sending <paramref name="token"/>.</summary>
    public static IServiceCollection AddAdminClient(this IServiceCollection services, Uri server, string token)
    {
        services.AddHttpClient<AdminClient>(http =>
        {
            http.BaseAddress = new Uri(server.AbsoluteUri.TrimEnd('/') + "/");
            http.Timeout = AdminClient.Timeout;
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        });
        return services;
    }
}

/// <summary>The node refused or failed an admin call; the message says what it answered.</summary>
internal sealed class AdminCallException(string message) : Exception(message);
