using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Mirror.Policy;

/// <summary>
/// Applies <c>Mirror:Policy</c> to what the mirror serves. Index files lose the lines of versions the policy hides,
/// whole lines only: every line that stays is upstream's bytes, verbatim, with its own line ending. A filtered file
/// gets a strong ETag over the bytes served, so a client's cached copy stops matching the moment the policy's answer
/// changes. Filtered files are kept in memory per crate, keyed by the index entry's ETag and the approvals version,
/// so the hot path is one dictionary lookup (plus, in approval mode, one storage ETag check of the approvals).
/// </summary>
public sealed partial class MirrorPolicy : IDisposable
{
    private readonly CratePolicy _policy;
    private readonly ApprovalStore _approvals;
    private readonly ILogger<MirrorPolicy> _logger;
    private readonly MemoryCache _filtered;

    public MirrorPolicy(IOptions<MirrorOptions> options, ApprovalStore approvals, ILogger<MirrorPolicy> logger)
    {
        _policy = CratePolicy.Create(options.Value.Policy);
        _approvals = approvals;
        _logger = logger;
        _filtered = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(1, options.Value.IndexMemoryCacheBytes) });
    }

    public CratePolicy Policy => _policy;

    /// <summary>Denied or NotAllowed when no version of the crate can be served, so upstream need not be asked at all.</summary>
    /// <summary>Whether any curation is configured; when not, nothing is filtered and storage is never consulted.</summary>
    public bool IsActive => _policy.IsActive;

    public PolicyVerdict EvaluateName(CrateName name) => _policy.IsActive ? _policy.EvaluateName(name) : PolicyVerdict.Visible;

    /// <summary>
    /// The index file as the policy lets cargo see it. In approval mode, versions nobody decided on yet are recorded
    /// as a pending request by <paramref name="requester"/> (once per crate and version set per node; null: not recorded,
    /// as for HEAD, which asks for nothing).
    /// </summary>
    public async Task<FilteredIndex> FilterAsync(CrateName name, IndexEntry entry, Func<CancellationToken, Task<string>>? requester, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!_policy.IsActive || entry.Stored is null)
        {
            return FilteredIndex.Unfiltered(entry);
        }

        var approvals = _policy.RequireApproval ? await _approvals.GetCurrentAsync(cancellationToken) : ApprovalSet.Empty;
        var filtered = _filtered.Get<FilteredIndex>(name.Lower);
        if (filtered is null || filtered.EntryETag != entry.ETag || filtered.ApprovalsVersion != approvals.Version)
        {
            filtered = Filter(name, entry, approvals);
            var size = 256 + (ReferenceEquals(filtered.Body, entry.Stored.Body) ? 0 : filtered.Body.Length);
            _filtered.Set(name.Lower, filtered, new MemoryCacheEntryOptions { Size = size });
        }

        if (filtered.Undecided.Count > 0)
        {
            await RecordPendingAsync(name, filtered.Undecided, requester, cancellationToken);
        }

        return filtered;
    }

    /// <summary>Whether one version may be downloaded; a version nobody decided on is recorded as pending.</summary>
    public async Task<PolicyVerdict> CheckVersionAsync(CrateName name, string version, Func<CancellationToken, Task<string>>? requester, CancellationToken cancellationToken)
    {
        if (!_policy.IsActive)
        {
            return PolicyVerdict.Visible;
        }

        if (!SemanticVersion.TryParse(version, out var parsed))
        {
            return PolicyVerdict.Denied;
        }

        var verdict = _policy.Evaluate(name, parsed);
        if (verdict != PolicyVerdict.Visible || !_policy.RequireApproval)
        {
            return verdict;
        }

        var approvals = await _approvals.GetCurrentAsync(cancellationToken);
        switch (approvals.Lookup(name, parsed)?.Decision)
        {
            case ApprovalDecision.Approved:
                return PolicyVerdict.Visible;
            case ApprovalDecision.Rejected:
                return PolicyVerdict.Rejected;
            default:
                await RecordPendingAsync(name, [version], requester, cancellationToken);
                return PolicyVerdict.NotApproved;
        }
    }

    /// <summary>A short reason for a refused download, naming the crate version.</summary>
    public static string Explain(PolicyVerdict verdict, CrateName name, string version) => verdict switch
    {
        PolicyVerdict.Denied => $"{name}@{version} is denied by this mirror's policy",
        PolicyVerdict.NotAllowed => $"{name}@{version} is denied by this mirror's policy: it is not on the allow-list",
        PolicyVerdict.NotApproved => $"{name}@{version} is not approved yet: an administrator has to approve it first (approvals approve {name} VERSIONREQ)",
        PolicyVerdict.Rejected => $"{name}@{version} was rejected by an administrator of this mirror",
        _ => $"{name}@{version} is served",
    };

    public void Dispose() => _filtered.Dispose();

    /// <summary>Drops the lines of hidden versions, copying every kept line with its terminator exactly as upstream sent it.</summary>
    internal FilteredIndex Filter(CrateName name, IndexEntry entry, ApprovalSet approvals)
    {
        var body = entry.Stored!.Body;
        var kept = new MemoryStream(body.Length);
        var undecided = new List<string>();
        var visible = 0;
        var removed = 0;
        foreach (var line in IndexFile.EnumerateLines(body))
        {
            var segment = line.WithTerminatorIn(body);
            if (line.IsBlank || IsVisible(name, segment, approvals, undecided))
            {
                kept.Write(segment);
                visible += line.IsBlank ? 0 : 1;
            }
            else
            {
                removed++;
            }
        }

        if (removed == 0)
        {
            return new FilteredIndex(body, entry.ETag!, visible > 0, undecided, entry.ETag, approvals.Version);
        }

        var served = kept.ToArray();
        return new FilteredIndex(served, StrongETag.Of(served), visible > 0, undecided, entry.ETag, approvals.Version);
    }

    private bool IsVisible(CrateName name, ReadOnlySpan<byte> segment, ApprovalSet approvals, List<string> undecided)
    {
        var trimmed = segment.TrimEnd("\r\n"u8);
        var line = IndexLine.TryParse(trimmed);
        if (line is null || !SemanticVersion.TryParse(line.Version, out var version))
        {
            return false; // a line whose version cannot be read cannot be checked: fail closed (cargo could not use it either)
        }

        if (_policy.Evaluate(name, version) != PolicyVerdict.Visible)
        {
            return false;
        }

        if (!_policy.RequireApproval)
        {
            return true;
        }

        switch (approvals.Lookup(name, version)?.Decision)
        {
            case ApprovalDecision.Approved:
                return true;
            case null:
                undecided.Add(line.Version);
                return false;
            default:
                return false;
        }
    }

    private async Task RecordPendingAsync(CrateName name, IReadOnlyCollection<string> versions, Func<CancellationToken, Task<string>>? requester, CancellationToken cancellationToken)
    {
        if (requester is null || _approvals.IsRecorded(name, versions))
        {
            return; // nobody to record (a HEAD asks for nothing), or the hot path: this node already recorded them
        }

        try
        {
            await _approvals.RecordPendingAsync(name, versions, await requester(cancellationToken), cancellationToken);
        }
        catch (Exception e) when (e is IOException or StorageUnavailableException or UnauthorizedAccessException)
        {
            // What is served stays right; the next request tries to record it again.
            LogPendingFailed(_logger, name.Value, e.Message);
        }
    }
}

/// <summary>
/// An index file as served under the policy: <see cref="Body"/> (upstream's bytes with hidden lines removed) and its
/// strong <see cref="ETag"/>. <see cref="AnyVisible"/> is false when every version is hidden (the mirror then answers
/// 404, so cargo says no such package). <see cref="Undecided"/> lists versions hidden only for want of an approval.
/// </summary>
public sealed record FilteredIndex(byte[] Body, string ETag, bool AnyVisible, IReadOnlyList<string> Undecided, string? EntryETag, string ApprovalsVersion)
{
    public static FilteredIndex Unfiltered(IndexEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new FilteredIndex(entry.Stored?.Body ?? [], entry.ETag ?? "\"\"", true, [], entry.ETag, "");
    }
}
