using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Server.Services;

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
        var approvals = app.MapGroup("/admin/api/v1/approvals").RequireAuthorization(CargoAuth.AdminPolicy);
        approvals.MapGet("", ListApprovals);
        approvals.MapPost("/approve", (HttpContext c, AdminQueries q) => DecideAsync(c, q, ApprovalDecision.Approved));
        approvals.MapPost("/reject", (HttpContext c, AdminQueries q) => DecideAsync(c, q, ApprovalDecision.Rejected));
        approvals.MapGet("/audit", ListAudit);
        return app;
    }

    /// <summary>Crates waiting for a decision (with who asked first and when) and every decision in force.</summary>
    public static async Task<Ok<ApprovalsResponse>> ListApprovals(HttpContext context, AdminQueries queries, IOptions<MirrorOptions> options)
    {
        var (pending, decisions) = await queries.ListApprovalsAsync(context.User, context.RequestAborted);
        return TypedResults.Ok(new ApprovalsResponse(
            options.Value.Policy.RequireApproval,
            [.. pending.Select(p => new PendingJson(p.Name, p.RequestedBy, p.RequestedAt, p.Versions, p.Waiting))],
            [.. decisions.Select(RuleJson.Of)]));
    }

    /// <summary><c>POST …/approve</c> or <c>…/reject</c> with <c>{"name": "serde", "req": "^1.0"}</c>; the caller's login is recorded as who decided.</summary>
    public static async Task<Results<Ok<DecisionResponse>, JsonHttpResult<CargoErrorBody>>> DecideAsync(HttpContext context, AdminQueries queries, ApprovalDecision decision)
    {
        var result = await queries.DecideAsync(context.User, context.Request.Body, decision, context.RequestAborted);
        return result.Status switch
        {
            AdminStatus.Ok => TypedResults.Ok(new DecisionResponse(true, RuleJson.Of(result.Value!.Rule), result.Value.Replaced is null ? null : RuleJson.Of(result.Value.Replaced))),
            AdminStatus.OutOfReach => CargoErrors.CrateMissing(result.Detail!),
            _ => CargoErrors.Status(StatusCodes.Status400BadRequest, result.Detail!),
        };
    }

    /// <summary>The audit trail, <c>?from=YYYY-MM-DD&amp;to=YYYY-MM-DD</c> (UTC days, inclusive; default the last 7).</summary>
    public static async Task<Results<Ok<AuditResponse>, JsonHttpResult<CargoErrorBody>>> ListAudit(HttpContext context, AdminQueries queries, string? from, string? to)
    {
        var result = await queries.ListAuditAsync(context.User, from, to, context.RequestAborted);
        if (result.Status != AdminStatus.Ok)
        {
            return CargoErrors.Status(StatusCodes.Status400BadRequest, result.Detail!);
        }

        return TypedResults.Ok(new AuditResponse([.. result.Value!.Select(e => new AuditJson(
            e.At, e.By, ApprovalRule.DecisionName(e.Decision), e.Name, e.Req, e.Replaced is { } r ? ApprovalRule.DecisionName(r) : null))]));
    }

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
