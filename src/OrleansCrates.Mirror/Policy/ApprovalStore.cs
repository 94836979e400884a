using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Mirror.Policy;

/// <summary>
/// Approvals in shared storage, so every node (and the CLI, with no server) sees the same decisions:
/// <list type="bullet">
/// <item><c>policy/approvals.json</c>: every decision, changed only by ETag-conditional writes with retries, so
/// concurrent decisions on different nodes all land. Readers check its storage ETag on every call and re-read it only
/// when it changed: a decision is in every node's index from the next request on, with no TTL.</item>
/// <item><c>policy/pending/{canonical}.json</c>: created create-only by the first request for a crate with undecided
/// versions (who, when, versions); later requests only add versions it does not list yet.</item>
/// <item><c>policy/audit/{yyyy-MM-dd}/{ticks}-{random}.json</c>: one object per decision, written before the
/// decision itself, so no decision is ever in effect without its record.</item>
/// </list>
/// </summary>
public sealed partial class ApprovalStore
{
    public const string ApprovalsKey = "policy/approvals.json";
    public const string PendingPrefix = "policy/pending/";
    public const string AuditPrefix = "policy/audit/";

    /// <summary>Conditional-write attempts per update; between attempts a short random pause spreads racing writers.</summary>
    private const int MaxUpdateAttempts = 40;

    /// <summary>Pending versions this node knows are recorded, per crate; past this many crates it starts over.</summary>
    private const int MaxRecordedCrates = 10_000;

    private readonly IObjectStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, HashSet<string>> _recorded = new(StringComparer.Ordinal);
    private ApprovalSet _current = ApprovalSet.Empty;

    public ApprovalStore(IObjectStore store, TimeProvider time, ILogger<ApprovalStore>? logger = null)
    {
        _store = store;
        _time = time;
        _logger = logger ?? NullLogger<ApprovalStore>.Instance;
    }

    /// <summary>
    /// The decisions as stored now: one storage property lookup per call, and a read only when the document changed.
    /// A document that cannot be parsed is a <see cref="StorageUnavailableException"/>: decisions are never guessed.
    /// </summary>
    public async Task<ApprovalSet> GetCurrentAsync(CancellationToken cancellationToken)
    {
        var properties = await _store.GetPropertiesOrNullAsync(ApprovalsKey, cancellationToken);
        if (properties is null)
        {
            return ApprovalSet.Empty;
        }

        var current = Volatile.Read(ref _current);
        if (current.Version == properties.ETag)
        {
            return current;
        }

        var read = await ReadApprovalsAsync(cancellationToken);
        if (read is null)
        {
            return ApprovalSet.Empty; // deleted since the lookup
        }

        var set = new ApprovalSet(read.Value.ETag, ToRules(read.Value.Document));
        Volatile.Write(ref _current, set);
        return set;
    }

    /// <summary>
    /// Records a decision on the versions of <paramref name="name"/> that <paramref name="req"/> matches, replacing an
    /// earlier decision on the same name and requirement, then drops the crate's pending request if nothing in it is
    /// still undecided.
    /// </summary>
    /// <remarks>
    /// The audit record is written <em>before</em> the decision, on every attempt whose view of the replaced decision
    /// differs from what the record says (one record per decision, updated in place), so a process killed at any
    /// point never leaves a decision in effect without its record. A crash between the two writes leaves a record of a
    /// decision that did not land: the trail says what an administrator asked for, never less.
    /// </remarks>
    public async Task<DecisionOutcome> DecideAsync(CrateName name, VersionReq req, ApprovalDecision decision, string by, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        var rule = new ApprovalRule(name.Value, req.ToString(), decision, by, _time.GetUtcNow());
        AuditWrite? audit = null;
        ApprovalRule? replaced = null;
        List<ApprovalRule> updated = [];
        var outcome = await _store.UpdateAsync<bool>(ApprovalsKey, async (read, _, token) =>
        {
            var rules = read is { } current ? ToRulesOrThrow(current.Content) : [];
            replaced = rules.LastOrDefault(r => SameKey(r, rule));
            if (audit is null || audit.Replaced != replaced?.Decision)
            {
                audit = await WriteAuditAsync(rule, replaced, audit, token);
            }

            // Another decision that landed first is kept: ours is re-applied on top of what is stored now.
            updated = [.. rules.Where(r => !SameKey(r, rule)).Append(rule)];
            var content = JsonSerializer.SerializeToUtf8Bytes(new ApprovalsDocument { Rules = [.. updated.Select(ToDocument)] }, PolicyJson.Default.ApprovalsDocument);
            return UpdateDecision<bool>.Replace(content, true);
        }, cancellationToken, MaxUpdateAttempts);
        if (outcome.Completed)
        {
            LogDecided(_logger, ApprovalRule.DecisionName(decision), name.Value, rule.Req, by);
            await DropSettledPendingAsync(name, new ApprovalSet(outcome.ETag ?? "", updated), cancellationToken);
            return new DecisionOutcome(rule, replaced);
        }

        throw new StorageUnavailableException($"Could not update {ApprovalsKey}: it kept changing during {MaxUpdateAttempts} attempts.");
    }

    /// <summary>
    /// Makes sure the crate's pending request lists <paramref name="versions"/>: creates it (create-only, so the first
    /// request's <paramref name="requestedBy"/> and time stay) or adds the versions it lacks. Each node remembers what
    /// it recorded, so requests after the first cost nothing.
    /// </summary>
    public async Task RecordPendingAsync(CrateName name, IReadOnlyCollection<string> versions, string requestedBy, CancellationToken cancellationToken)
    {
        var canonical = name.Canonical;
        if (IsRecorded(name, versions))
        {
            return;
        }

        var key = PendingKey(name);
        var outcome = await _store.UpdateAsync<(IReadOnlyList<string> Listed, IReadOnlyList<string> Added)>(key, stored =>
        {
            var existing = stored is { } current ? StoredJson.ParseOrNull(current.Content, PolicyJson.Default.PendingDocument) : null;
            var listed = existing?.Versions ?? [];
            var missing = versions.Where(v => !listed.Contains(v, StringComparer.Ordinal)).ToList();
            if (existing is not null && missing.Count == 0)
            {
                return UpdateDecision<(IReadOnlyList<string>, IReadOnlyList<string>)>.Keep((listed, []));
            }

            // Created once (the first request's requester and time stay), then only the versions it lacks are added.
            var merged = new PendingDocument
            {
                Name = existing?.Name ?? name.Value,
                RequestedBy = existing?.RequestedBy ?? requestedBy,
                RequestedAt = existing?.RequestedAt ?? _time.GetUtcNow(),
                Versions = Sorted(listed.Concat(missing)),
            };
            return UpdateDecision<(IReadOnlyList<string>, IReadOnlyList<string>)>.Replace(
                JsonSerializer.SerializeToUtf8Bytes(merged, PolicyJson.Default.PendingDocument), (merged.Versions, missing));
        }, cancellationToken, MaxUpdateAttempts);
        if (outcome.Completed)
        {
            if (outcome.Result.Added.Count > 0)
            {
                LogPendingRecorded(_logger, name.Value, string.Join(", ", outcome.Result.Added), requestedBy);
            }

            Remember(canonical, outcome.Result.Listed);
            return;
        }

        throw new StorageUnavailableException($"Could not update {key}: it kept changing during {MaxUpdateAttempts} attempts.");
    }

    /// <summary>True when this instance already recorded (or saw recorded) every one of <paramref name="versions"/> as pending.</summary>
    public bool IsRecorded(CrateName name, IReadOnlyCollection<string> versions) =>
        versions.Count == 0 || (_recorded.TryGetValue(name.Canonical, out var known) && IsSubset(versions, known));

    /// <summary>Every pending request with versions still waiting for a decision, oldest request first.</summary>
    public async Task<IReadOnlyList<PendingApproval>> ListPendingAsync(ApprovalSet decisions, CancellationToken cancellationToken)
    {
        var pending = new List<PendingApproval>();
        await foreach (var properties in _store.ListAsync(PendingPrefix, cancellationToken))
        {
            var read = await ReadPendingOrNullAsync(properties.Key, cancellationToken);
            if (read is null || !CrateName.TryParse(read.Name, out var name))
            {
                continue;
            }

            var waiting = read.Versions.Where(v => decisions.Lookup(name.Value, v) is null).ToList();
            if (waiting.Count > 0)
            {
                pending.Add(new PendingApproval(read.Name, read.RequestedBy, read.RequestedAt, read.Versions, waiting));
            }
        }

        pending.Sort((a, b) => a.RequestedAt != b.RequestedAt ? a.RequestedAt.CompareTo(b.RequestedAt) : string.CompareOrdinal(a.Name, b.Name));
        return pending;
    }

    /// <summary>The audit trail for UTC days <paramref name="from"/> to <paramref name="to"/> inclusive, oldest first.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ListAuditAsync(DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var entries = new List<(string Key, AuditEntry Entry)>();
        // Day numbers, not AddDays: a range ending on 9999-12-31 must end, not step past the calendar.
        for (var number = from.DayNumber; number <= to.DayNumber; number++)
        {
            var day = DateOnly.FromDayNumber(number);
            await foreach (var properties in _store.ListAsync($"{AuditPrefix}{day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}/", cancellationToken))
            {
                var stored = await _store.ReadSmallOrNullAsync(properties.Key, cancellationToken);
                var document = stored is null ? null : StoredJson.ParseOrNull(stored.Value.Content, PolicyJson.Default.AuditDocument);
                if (document is not null && ApprovalRule.ParseDecisionOrNull(document.Decision) is { } decision)
                {
                    entries.Add((properties.Key, new AuditEntry(document.At, document.By, decision, document.Name, document.Req, ApprovalRule.ParseDecisionOrNull(document.Replaced))));
                }
            }
        }

        return [.. entries.OrderBy(e => e.Entry.At).ThenBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Entry)];
    }

    /// <summary>
    /// Who asked, for a pending request, when no token says so: a short hash of the client's address (the address
    /// itself is not stored).
    /// </summary>
    public static string ClientOf(IPAddress? address)
    {
        var text = address is null ? "unknown" : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
        return "client-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
    }

    public static string PendingKey(CrateName name) => $"{PendingPrefix}{name.Canonical}.json";

    private async Task<(ApprovalsDocument Document, string ETag)?> ReadApprovalsAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.ReadSmallOrNullAsync(ApprovalsKey, cancellationToken);
        return stored is null ? null : (ParseApprovals(stored.Value.Content), stored.Value.ETag);
    }

    private static ApprovalsDocument ParseApprovals(byte[] content) =>
        StoredJson.ParseOrNull(content, PolicyJson.Default.ApprovalsDocument)
        ?? throw new StorageUnavailableException($"{ApprovalsKey} is not a valid approvals document; fix or restore it.");

    private static List<ApprovalRule> ToRulesOrThrow(byte[] content) => ToRules(ParseApprovals(content));

    private async Task<PendingDocument?> ReadPendingOrNullAsync(string key, CancellationToken cancellationToken)
    {
        var stored = await _store.ReadSmallOrNullAsync(key, cancellationToken);
        return stored is null ? null : StoredJson.ParseOrNull(stored.Value.Content, PolicyJson.Default.PendingDocument);
    }

    /// <summary>The audit object of one decision: where it is, its ETag and which replaced decision it names.</summary>
    private sealed record AuditWrite(string Key, string ETag, ApprovalDecision? Replaced);

    /// <summary>
    /// Writes the decision's audit object: create-only under a new key the first time, then (when a retry finds a
    /// different replaced decision) over that same object, so one decision has one record.
    /// </summary>
    private async Task<AuditWrite> WriteAuditAsync(ApprovalRule rule, ApprovalRule? replaced, AuditWrite? earlier, CancellationToken cancellationToken)
    {
        var document = new AuditDocument
        {
            Decision = ApprovalRule.DecisionName(rule.Decision),
            Name = rule.Name,
            Req = rule.Req,
            By = rule.By,
            At = rule.At,
            Replaced = replaced is null ? null : ApprovalRule.DecisionName(replaced.Decision),
        };
        var content = JsonSerializer.SerializeToUtf8Bytes(document, PolicyJson.Default.AuditDocument);
        while (true)
        {
            var key = earlier?.Key ?? string.Create(CultureInfo.InvariantCulture,
                $"{AuditPrefix}{rule.At.UtcDateTime:yyyy-MM-dd}/{rule.At.UtcTicks:D19}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.json");
            var put = await _store.PutAsync(key, content, earlier is null ? WriteCondition.IfNotExists : WriteCondition.IfMatch(earlier.ETag), cancellationToken);
            if (put.Status == PutStatus.Written)
            {
                return new AuditWrite(key, put.ETag ?? "", replaced?.Decision);
            }

            if (earlier is not null)
            {
                // Only this call writes this key; if its object changed or vanished, start a fresh record.
                earlier = null;
            }
        }
    }

    /// <summary>Deletes the crate's pending request once every version in it has a decision (hygiene: listing skips those anyway).</summary>
    private async Task DropSettledPendingAsync(CrateName name, ApprovalSet decisions, CancellationToken cancellationToken)
    {
        var key = PendingKey(name);
        var stored = await _store.ReadSmallOrNullAsync(key, cancellationToken);
        var document = stored is null ? null : StoredJson.ParseOrNull(stored.Value.Content, PolicyJson.Default.PendingDocument);
        if (document is not null && document.Versions.All(v => decisions.Lookup(name, v) is not null))
        {
            await _store.DeleteAsync(key, stored!.Value.ETag, cancellationToken); // a request that added a version meanwhile keeps it
        }
    }

    private void Remember(string canonical, IEnumerable<string> versions)
    {
        if (_recorded.Count >= MaxRecordedCrates)
        {
            _recorded.Clear();
        }

        var set = new HashSet<string>(versions, StringComparer.Ordinal);
        _recorded.AddOrUpdate(canonical, set, (_, old) =>
        {
            set.UnionWith(old);
            return set;
        });
    }

    private static bool IsSubset(IEnumerable<string> versions, HashSet<string> known)
    {
        foreach (var version in versions)
        {
            if (!known.Contains(version))
            {
                return false;
            }
        }

        return true;
    }

    private static List<string> Sorted(IEnumerable<string> versions) =>
        [.. versions.Distinct(StringComparer.Ordinal).OrderBy(v => SemanticVersion.TryParse(v, out var s) ? s : default).ThenBy(v => v, StringComparer.Ordinal)];

    private static bool SameKey(ApprovalRule a, ApprovalRule b) =>
        PolicyEntry.Canonical(a.Name) == PolicyEntry.Canonical(b.Name) && a.Req == b.Req;

    private static List<ApprovalRule> ToRules(ApprovalsDocument document) =>
        [.. document.Rules.Select(r => ApprovalRule.ParseDecisionOrNull(r.Decision) is { } d ? new ApprovalRule(r.Name, r.Req, d, r.By, r.At) : null).OfType<ApprovalRule>()];

    private static RuleDocument ToDocument(ApprovalRule rule) =>
        new() { Name = rule.Name, Req = rule.Req, Decision = ApprovalRule.DecisionName(rule.Decision), By = rule.By, At = rule.At };
}
