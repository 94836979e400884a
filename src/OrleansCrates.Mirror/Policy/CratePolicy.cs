using OrleansCrates.Mirror;
using OrleansCrates.Protocol;

namespace OrleansCrates.Mirror.Policy;

/// <summary>Why a crate version is, or is not, served by the mirror.</summary>
public enum PolicyVerdict
{
    Visible,

    /// <summary>A <c>Mirror:Policy:Deny</c> entry matches it.</summary>
    Denied,

    /// <summary>The allow-list is not empty and no entry on it matches.</summary>
    NotAllowed,

    /// <summary>Approval mode, and no administrator decided on it yet.</summary>
    NotApproved,

    /// <summary>Approval mode, and an administrator rejected it.</summary>
    Rejected,
}

/// <summary>
/// The configured part of the policy (allow and deny lists, approval mode), fixed for the life of the process.
/// Deny wins over allow; approvals apply to what allow and deny let through.
/// </summary>
public sealed class CratePolicy
{
    private readonly PolicyEntry[] _allow;
    private readonly PolicyEntry[] _deny;

    private CratePolicy(PolicyEntry[] allow, PolicyEntry[] deny, bool requireApproval)
    {
        _allow = allow;
        _deny = deny;
        RequireApproval = requireApproval;
    }

    public static CratePolicy Open { get; } = new([], [], requireApproval: false);

    public bool RequireApproval { get; }

    /// <summary>False when the policy lets everything through: the mirror then serves upstream's files untouched.</summary>
    public bool IsActive => RequireApproval || _allow.Length > 0 || _deny.Length > 0;

    /// <summary>What is wrong with the configuration, one message per bad entry naming its key; empty when valid.</summary>
    public static IReadOnlyList<string> Problems(PolicyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        Check(options.Allow, nameof(PolicyOptions.Allow));
        Check(options.Deny, nameof(PolicyOptions.Deny));
        return problems;

        void Check(List<string> entries, string list)
        {
            for (var i = 0; i < entries.Count; i++)
            {
                if (!PolicyEntry.TryParse(entries[i], out _, out var error))
                {
                    problems.Add($"Mirror:Policy:{list}:{i} {error}");
                }
            }
        }
    }

    /// <summary>Builds the policy; throws <see cref="FormatException"/> for an entry <see cref="Problems"/> reports.</summary>
    public static CratePolicy Create(PolicyOptions options)
    {
        var problems = Problems(options);
        if (problems.Count > 0)
        {
            throw new FormatException(string.Join(" ", problems));
        }

        return new CratePolicy(Parse(options.Allow), Parse(options.Deny), options.RequireApproval);

        static PolicyEntry[] Parse(List<string> entries) =>
            [.. entries.Select(e => PolicyEntry.TryParse(e, out var entry, out _) ? entry : throw new FormatException(e))];
    }

    /// <summary>The verdict of the allow and deny lists on one version (never <see cref="PolicyVerdict.NotApproved"/>).</summary>
    public PolicyVerdict Evaluate(CrateName name, SemanticVersion version)
    {
        foreach (var entry in _deny)
        {
            if (entry.Matches(name, version))
            {
                return PolicyVerdict.Denied;
            }
        }

        if (_allow.Length == 0)
        {
            return PolicyVerdict.Visible;
        }

        foreach (var entry in _allow)
        {
            if (entry.Matches(name, version))
            {
                return PolicyVerdict.Visible;
            }
        }

        return PolicyVerdict.NotAllowed;
    }

    /// <summary>
    /// <see cref="PolicyVerdict.Denied"/> or <see cref="PolicyVerdict.NotAllowed"/> when no version of the crate can
    /// ever be served (a deny entry without a requirement names it, or the allow-list does not name it at all), so
    /// upstream need not be asked; otherwise <see cref="PolicyVerdict.Visible"/>, meaning "some versions may be".
    /// </summary>
    public PolicyVerdict EvaluateName(CrateName name)
    {
        if (_deny.Any(e => e.Requirement is null && e.MatchesName(name)))
        {
            return PolicyVerdict.Denied;
        }

        return _allow.Length == 0 || _allow.Any(e => e.MatchesName(name)) ? PolicyVerdict.Visible : PolicyVerdict.NotAllowed;
    }
}
