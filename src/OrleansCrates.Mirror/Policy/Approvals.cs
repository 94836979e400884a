using OrleansCrates.Protocol;

namespace OrleansCrates.Mirror.Policy;

public enum ApprovalDecision
{
    Approved,
    Rejected,
}

/// <summary>An administrator's decision on the versions of one crate that <paramref name="Req"/> matches.</summary>
public sealed record ApprovalRule(string Name, string Req, ApprovalDecision Decision, string By, DateTimeOffset At)
{
    public static string DecisionName(ApprovalDecision decision) => decision == ApprovalDecision.Approved ? "approved" : "rejected";

    public static ApprovalDecision? ParseDecisionOrNull(string? text) => text switch
    {
        "approved" => ApprovalDecision.Approved,
        "rejected" => ApprovalDecision.Rejected,
        _ => null,
    };
}

/// <summary>The outcome of a decision: the rule now in force, and the one it replaced (same name and requirement).</summary>
public sealed record DecisionOutcome(ApprovalRule Rule, ApprovalRule? Replaced);

/// <summary>
/// A crate someone asked for that has versions nobody decided on yet: who asked first, when, every undecided version
/// requests met, and which of them are still <paramref name="Waiting"/> for a decision.
/// </summary>
public sealed record PendingApproval(string Name, string RequestedBy, DateTimeOffset RequestedAt, IReadOnlyList<string> Versions, IReadOnlyList<string> Waiting);

/// <summary>One entry of the audit trail: who decided what, when.</summary>
public sealed record AuditEntry(DateTimeOffset At, string By, ApprovalDecision Decision, string Name, string Req, ApprovalDecision? Replaced);

/// <summary>
/// Every decision as of one version of <c>policy/approvals.json</c>, ready for lookups. When several decisions match
/// a version, the most recent one holds ("approve ^1" then "reject =1.2.3" hides 1.2.3; "reject *" then
/// "approve =1.0.0" serves 1.0.0).
/// </summary>
public sealed class ApprovalSet
{
    private readonly Dictionary<string, List<(VersionReq Req, ApprovalRule Rule)>> _byCrate = new(StringComparer.Ordinal);

    internal ApprovalSet(string version, IReadOnlyList<ApprovalRule> rules)
    {
        Version = version;
        Rules = rules;
        foreach (var rule in rules)
        {
            if (!VersionReq.TryParse(rule.Req, out var req))
            {
                continue; // never written by this code; ignored rather than trusted
            }

            var key = PolicyEntry.Canonical(rule.Name);
            if (!_byCrate.TryGetValue(key, out var list))
            {
                _byCrate[key] = list = [];
            }

            list.Add((req, rule));
        }
    }

    public static ApprovalSet Empty { get; } = new("", []);

    /// <summary>Identifies this state (the storage ETag of the document, empty when there is none): equal versions, equal decisions.</summary>
    public string Version { get; }

    /// <summary>Every decision, oldest first.</summary>
    public IReadOnlyList<ApprovalRule> Rules { get; }

    /// <summary>The decision in force for one version; null when nobody decided on it.</summary>
    public ApprovalRule? Lookup(CrateName name, SemanticVersion version)
    {
        if (!_byCrate.TryGetValue(name.Canonical, out var rules))
        {
            return null;
        }

        for (var i = rules.Count - 1; i >= 0; i--)
        {
            if (rules[i].Req.Matches(version))
            {
                return rules[i].Rule;
            }
        }

        return null;
    }

    public ApprovalRule? Lookup(CrateName name, string version) =>
        SemanticVersion.TryParse(version, out var parsed) ? Lookup(name, parsed) : null;
}
