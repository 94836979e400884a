using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Core;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Core.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// Administration over HTTP, for admin-scope tokens only (401 without a token, 403 for an invalid one or any other
/// scope): the mirror's approvals at <c>/admin/api/v1/approvals</c>. A token's crate patterns limit it here too:
/// lists show only the crates within them, and a decision on any other crate answers 404 (as it would were the crate
/// unknown). Errors come as <c>{"errors":[{"detail":…}]}</c>.
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
        var (admin, refused) = await AdminAsync(context, access);
        if (refused is not null)
        {
            return refused;
        }

        var decisions = await store.GetCurrentAsync(context.RequestAborted);
        var pending = await store.ListPendingAsync(decisions, context.RequestAborted);
        return TypedResults.Json(new ApprovalsResponse(
            options.Value.Policy.RequireApproval,
            [.. pending.Where(p => access.Policy.Covers(admin!, p.Name)).Select(p => new PendingJson(p.Name, p.RequestedBy, p.RequestedAt, p.Versions, p.Waiting))],
            [.. decisions.Rules.Where(r => access.Policy.Covers(admin!, r.Name)).Select(RuleJson.Of)]));
    }

    /// <summary><c>POST …/approve</c> or <c>…/reject</c> with <c>{"name": "serde", "req": "^1.0"}</c>; the caller's login is recorded as who decided.</summary>
    public static async Task<IResult> DecideAsync(HttpContext context, ApprovalStore store, RegistryAccess access, ApprovalDecision decision)
    {
        var (_, refused) = await AdminAsync(context, access);
        if (refused is not null)
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

        // The crate itself within the token's patterns, through the same check as every other crate-scoped call.
        var authorization = await access.AuthorizeAsync(context, TokenScope.Admin, name.Value.Value);
        if (AccessAnswers.RefusalOrNull(context, authorization, TokenScope.Admin, () => AccessAnswers.CrateMissing(name.Value.Value)) is { } outOfReach)
        {
            return outOfReach;
        }

        var outcome = await store.DecideAsync(name.Value, req, decision, authorization.Caller!.User, context.RequestAborted);
        return TypedResults.Json(new DecisionResponse(true, RuleJson.Of(outcome.Rule), outcome.Replaced is null ? null : RuleJson.Of(outcome.Replaced)));
    }

    /// <summary>The audit trail, <c>?from=YYYY-MM-DD&amp;to=YYYY-MM-DD</c> (UTC days, inclusive; default the last 7).</summary>
    public static async Task<IResult> ListAudit(HttpContext context, ApprovalStore store, RegistryAccess access, TimeProvider time, string? from, string? to)
    {
        var (admin, refused) = await AdminAsync(context, access);
        if (refused is not null)
        {
            return refused;
        }

        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        if (!DayRange.TryParse(from, to, today, out var range, out var error))
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, error);
        }

        var entries = await store.ListAuditAsync(range.First, range.Last, context.RequestAborted);
        return TypedResults.Json(new AuditResponse([.. entries.Where(e => access.Policy.Covers(admin!, e.Name)).Select(e => new AuditJson(
            e.At, e.By, ApprovalRule.DecisionName(e.Decision), e.Name, e.Req, e.Replaced is { } r ? ApprovalRule.DecisionName(r) : null))]));
    }

    /// <summary>The caller when it holds an admin-scope token; what it holds limits every answer to its crate patterns.</summary>
    internal static async Task<(TokenInfo? Admin, IResult? Refused)> AdminAsync(HttpContext context, RegistryAccess access)
    {
        var authorization = await access.AuthorizeAsync(context, TokenScope.Admin, crate: null);
        return (authorization.Caller, AccessAnswers.RefusalOrNull(context, authorization, TokenScope.Admin, () => AccessAnswers.CrateMissing("")));
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
