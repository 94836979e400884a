using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Cli;

/// <summary>
/// The admin API of a running node (<c>--server URL</c>), so that decisions and prefetches go through the cluster:
/// approvals at <c>/admin/api/v1/approvals</c>, prefetch at <c>/admin/api/v1/prefetch</c>. Errors come back as
/// <see cref="AdminCallException"/> with the server's own <c>{"errors":[{"detail"}]}</c> text.
/// </summary>
internal sealed class AdminClient(Uri server, string token) : IDisposable
{
    /// <summary>A prefetch of a big lockfile is one request that lasts until every file is in.</summary>
    private readonly HttpClient _http = new()
    {
        BaseAddress = new Uri(server.AbsoluteUri.TrimEnd('/') + "/"),
        Timeout = TimeSpan.FromHours(1),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    public Uri Server => server;

    public Task<ApprovalsJson> GetApprovalsAsync(CancellationToken ct) => SendAsync<ApprovalsJson>(HttpMethod.Get, "admin/api/v1/approvals", null, ct);

    public Task<DecisionJson> DecideAsync(string verb, string name, string req, CancellationToken ct) =>
        SendAsync<DecisionJson>(HttpMethod.Post, $"admin/api/v1/approvals/{verb}", new { name, req }, ct);

    public Task<AuditJson> GetAuditAsync(DateOnly from, DateOnly to, CancellationToken ct) =>
        SendAsync<AuditJson>(HttpMethod.Get, $"admin/api/v1/approvals/audit?from={from:yyyy-MM-dd}&to={to:yyyy-MM-dd}", null, ct);

    public Task<PrefetchJson> PrefetchAsync(IEnumerable<object> packages, int concurrency, CancellationToken ct) =>
        SendAsync<PrefetchJson>(HttpMethod.Post, "admin/api/v1/prefetch", new { packages, concurrency }, ct);

    public void Dispose() => _http.Dispose();

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await _http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            var errors = await ReadOrNullAsync<ErrorsJson>(response, ct);
            throw new AdminCallException($"{server} answered {(int)response.StatusCode}: {errors?.Errors?.FirstOrDefault()?.Detail ?? response.ReasonPhrase}");
        }

        return await ReadOrNullAsync<T>(response, ct) ?? throw new AdminCallException($"{server} answered {path} with no usable JSON");
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

/// <summary>The node refused or failed an admin call; the message says what it answered.</summary>
internal sealed class AdminCallException(string message) : Exception(message);
