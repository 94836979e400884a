using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Core.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// Administration over HTTP, for admin-scope tokens only (401 without a valid token, 403 for any other scope):
/// the mirror's approvals at <c>/admin/api/v1/approvals</c>. Errors come as <c>{"errors":[{"detail":…}]}</c>.
/// </summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var approvals = app.MapGroup("/admin/api/v1/approvals");
        approvals.MapGet("", ListApprovals);
        approvals.MapPost("/approve", (HttpContext c, ApprovalStore s, RegistryAccess a) => DecideAsync(c, s, a, ApprovalDecision.Approved));
        approvals.MapPost("/reject", (HttpContext c, ApprovalStore s, RegistryAccess a) => DecideAsync(c, s, a, ApprovalDecision.Rejected));
        approvals.MapGet("/audit", ListAudit);
        return app;
    }

    /// <summary>Crates waiting for a decision (with who asked first and when) and every decision in force.</summary>
    public static async Task<IResult> ListApprovals(HttpContext context, ApprovalStore store, RegistryAccess access, IOptions<MirrorOptions> options)
    {
        if (await AdminRefusalOrNullAsync(context, access) is { } refused)
        {
            return refused;
        }

        var decisions = await store.GetCurrentAsync(context.RequestAborted);
        var pending = await store.ListPendingAsync(decisions, context.RequestAborted);
        return TypedResults.Json(new ApprovalsResponse(
            options.Value.Policy.RequireApproval,
            [.. pending.Select(p => new PendingJson(p.Name, p.RequestedBy, p.RequestedAt, p.Versions, p.Waiting))],
            [.. decisions.Rules.Select(RuleJson.Of)]));
    }

    /// <summary><c>POST …/approve</c> or <c>…/reject</c> with <c>{"name": "serde", "req": "^1.0"}</c>; the caller's login is recorded as who decided.</summary>
    public static async Task<IResult> DecideAsync(HttpContext context, ApprovalStore store, RegistryAccess access, ApprovalDecision decision)
    {
        if (await AdminRefusalOrNullAsync(context, access) is { } refused)
        {
            return refused;
        }

        DecisionRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<DecisionRequest>(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            body = null;
        }

        if (body is null || !CrateName.TryParse(body.Name, out var name))
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, "expected {\"name\": CRATE, \"req\": VERSIONREQ} with a valid crate name");
        }

        if (!VersionReq.TryParse(body.Req, out var req, out var error))
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, $"invalid version requirement: {error}");
        }

        var caller = (await access.CallerOrNullAsync(context))!;
        var outcome = await store.DecideAsync(name.Value, req, decision, caller.User, context.RequestAborted);
        return TypedResults.Json(new DecisionResponse(true, RuleJson.Of(outcome.Rule), outcome.Replaced is null ? null : RuleJson.Of(outcome.Replaced)));
    }

    /// <summary>The audit trail, <c>?from=YYYY-MM-DD&amp;to=YYYY-MM-DD</c> (UTC days, inclusive; default the last 7).</summary>
    public static async Task<IResult> ListAudit(HttpContext context, ApprovalStore store, RegistryAccess access, TimeProvider time, string? from, string? to)
    {
        if (await AdminRefusalOrNullAsync(context, access) is { } refused)
        {
            return refused;
        }

        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        if (!TryDay(to, today, out var last) || !TryDay(from, last.AddDays(-6), out var first) || first > last || last.DayNumber - first.DayNumber > 366)
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, "from and to are UTC days YYYY-MM-DD, from <= to, at most a year apart");
        }

        var entries = await store.ListAuditAsync(first, last, context.RequestAborted);
        return TypedResults.Json(new AuditResponse([.. entries.Select(e => new AuditJson(
            e.At, e.By, ApprovalRule.DecisionName(e.Decision), e.Name, e.Req, e.Replaced is { } r ? ApprovalRule.DecisionName(r) : null))]));
    }

    private static async Task<IResult?> AdminRefusalOrNullAsync(HttpContext context, RegistryAccess access)
    {
        var caller = await access.CallerOrNullAsync(context);
        return caller is null ? CargoErrors.Unauthorized(context, "an admin token is required")
            : !access.Policy.IsAdmin(caller) ? CargoErrors.Forbidden("an admin token is required")
            : null;
    }

    private static bool TryDay(string? text, DateOnly fallback, out DateOnly day)
    {
        day = fallback;
        return text is null || DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day);
    }

    public sealed record DecisionRequest(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("req")] string? Req);

    public sealed record ApprovalsResponse(
        [property: JsonPropertyName("require_approval")] bool RequireApproval,
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
        [property: JsonPropertyName("at")] DateTimeOffset At)
    {
        public static RuleJson Of(ApprovalRule rule) => new(rule.Name, rule.Req, ApprovalRule.DecisionName(rule.Decision), rule.By, rule.At);
    }

    public sealed record DecisionResponse(
        [property: JsonPropertyName("ok")] bool Ok,
        [property: JsonPropertyName("decision")] RuleJson Decision,
        [property: JsonPropertyName("replaced")] RuleJson? Replaced);

    public sealed record AuditResponse([property: JsonPropertyName("audit")] IReadOnlyList<AuditJson> Audit);

    public sealed record AuditJson(
        [property: JsonPropertyName("at")] DateTimeOffset At,
        [property: JsonPropertyName("by")] string By,
        [property: JsonPropertyName("decision")] string Decision,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("req")] string Req,
        [property: JsonPropertyName("replaced")] string? Replaced);
}
