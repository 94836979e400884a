namespace OrleansCrates.Mirror;

/// <summary>
/// Configuration section <c>Mirror:Policy</c>: which crates.io crates the mirror serves. Read once at start.
/// Entries are <c>name</c>, <c>name-pattern*</c> (<c>*</c> matches any run of characters; names compare canonically,
/// lower case with <c>-</c> = <c>_</c>) or either of those with <c>@version-requirement</c> (cargo's syntax).
/// </summary>
public sealed class PolicyOptions
{
    /// <summary>When not empty, only versions some entry matches are served.</summary>
    public List<string> Allow { get; set; } = [];

    /// <summary>Versions any entry matches are never served; deny wins over allow.</summary>
    public List<string> Deny { get; set; } = [];

    /// <summary>Versions are served only once an administrator approved them (on top of allow and deny).</summary>
    public bool RequireApproval { get; set; }
}
