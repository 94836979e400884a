using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Server.Auth;

namespace OrleansCrates.Server.Services;

/// <summary>
/// The administration calls (an admin-scope token, checked by the endpoints' policy): the mirror's approvals and
/// their audit trail, and the private registry's download records. A token's crate patterns limit each answer: lists
/// hold only the crates within them (asked per crate of <see cref="CrateAccess"/>), and a decision on any other crate
/// is <see cref="AdminStatus.OutOfReach"/>. Day ranges are parsed here (<see cref="DayRange"/>: the CLI's parser).
/// </summary>
public sealed class AdminQueries(ApprovalStore approvals, DownloadLog downloads, CrateAccess access, TimeProvider time)
{
    /// <summary>Crates waiting for a decision and every decision in force, within the caller's patterns.</summary>
    public async Task<(IReadOnlyList<PendingApproval> Pending, IReadOnlyList<ApprovalRule> Decisions)> ListApprovalsAsync(ClaimsPrincipal admin, CancellationToken ct)
    {
        var decisions = await approvals.GetCurrentAsync(ct);
        var pending = await approvals.ListPendingAsync(decisions, ct);
        return (access.WithinReach(admin, TokenScope.Admin, pending, p => p.Name),
                access.WithinReach(admin, TokenScope.Admin, decisions.Rules, r => r.Name));
    }

    /// <summary>
    /// A decision from <c>{"name": "serde", "req": "^1.0"}</c>: 400 for a body that is not that, out of reach for a crate
    /// outside the caller's patterns; the caller's login is recorded as who decided.
    /// </summary>
    public async Task<AdminResult<DecisionOutcome>> DecideAsync(ClaimsPrincipal admin, Stream body, ApprovalDecision decision, CancellationToken ct)
    {
        DecisionRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<DecisionRequest>(body, cancellationToken: ct);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request is null || !CrateName.TryParse(request.Name, out var name))
        {
            return AdminResult<DecisionOutcome>.BadRequest("expected {\"name\": CRATE, \"req\": VERSIONREQ} with a valid crate name");
        }

        if (!VersionReq.TryParse(request.Req, out var req, out var error))
        {
            return AdminResult<DecisionOutcome>.BadRequest($"invalid version requirement: {error}");
        }

        // The crate itself within the token's patterns, through the same check as every other crate-scoped call.
        if (!access.Allows(admin, TokenScope.Admin, name.Value.Value))
        {
            return new(AdminStatus.OutOfReach, default, name.Value.Value);
        }

        var outcome = await approvals.DecideAsync(name.Value, req, decision, TokenIdentity.TokenOf(admin)!.User, ct);
        return new(AdminStatus.Ok, outcome, null);
    }

    /// <summary>The audit trail of UTC days <paramref name="from"/>–<paramref name="to"/> (default the last 7), within the caller's patterns.</summary>
    public async Task<AdminResult<IReadOnlyList<AuditEntry>>> ListAuditAsync(ClaimsPrincipal admin, string? from, string? to, CancellationToken ct)
    {
        if (!TryParseDays(from, to, out var range, out var error))
        {
            return AdminResult<IReadOnlyList<AuditEntry>>.BadRequest(error);
        }

        var entries = await approvals.ListAuditAsync(range.First, range.Last, ct);
        return new(AdminStatus.Ok, access.WithinReach(admin, TokenScope.Admin, entries, e => e.Name), null);
    }

    /// <summary>Download records of UTC days <paramref name="from"/>–<paramref name="to"/>, limited to the crates within the caller's patterns.</summary>
    public async Task<AdminResult<IReadOnlyList<DownloadRecord>>> ListDownloadsAsync(ClaimsPrincipal admin, string? from, string? to, string? user, string? crate, CancellationToken ct)
    {
        if (!TryParseDays(from, to, out var range, out var error))
        {
            return AdminResult<IReadOnlyList<DownloadRecord>>.BadRequest(error);
        }

        var records = new List<DownloadRecord>();
        await foreach (var record in downloads.QueryAsync(range.First, range.Last, user, crate, ct))
        {
            if (access.Allows(admin, TokenScope.Admin, record.Crate))
            {
                records.Add(record);
            }
        }

        return new(AdminStatus.Ok, records, null);
    }

    private bool TryParseDays(string? from, string? to, out DayRange range, out string error) =>
        DayRange.TryParse(from, to, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), out range, out error);

    public sealed record DecisionRequest(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("req")] string? Req);
}

public enum AdminStatus
{
    Ok,

    /// <summary>The request is malformed (400, with <see cref="AdminResult{T}.Detail"/>).</summary>
    BadRequest,

    /// <summary>The crate (<see cref="AdminResult{T}.Detail"/>) is outside the token's patterns: answered as a crate that does not exist.</summary>
    OutOfReach,
}

public readonly record struct AdminResult<T>(AdminStatus Status, T? Value, string? Detail)
{
    public static AdminResult<T> BadRequest(string detail) => new(AdminStatus.BadRequest, default, detail);
}
