using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

/// <summary>
/// Where a private crate's changes are made: publish's commit (the claim, the index line, the metadata), yank, owners
/// and release. On a server this is the crate's grain, one writer for the whole cluster (<c>PrivateCrateGrains</c>);
/// in a process without a silo (the CLI's offline commands, logic tests) it is <see cref="LocalPrivateCrateWriters"/>.
/// Both run the same <see cref="PrivateCrateWriter"/>, whose create-only and ETag-conditional writes stay the fence
/// against every other writer (another region, the offline CLI, a brief duplicate activation). Expected outcomes are
/// values; a writer that cannot be reached in time is a 503 <see cref="RegistryError"/>.
/// </summary>
public interface IPrivateCrateWriters
{
    /// <summary>
    /// Commits a version whose crate file is already stored (content-addressed, create-only): claims a new name, appends
    /// the index line and refreshes the metadata; a name this commit claimed is released again if its line does not land.
    /// </summary>
    Task<CommitOutcome> CommitVersionAsync(VersionCommit commit, CancellationToken ct);

    /// <summary>Sets the <c>yanked</c> flag of one version (owners, or admins of the crate).</summary>
    Task<RegistryOutcome> SetYankedAsync(CrateChange change, string version, bool yanked, CancellationToken ct);

    /// <summary>Adds owners (whose logins the caller has checked exist) or removes them.</summary>
    Task<RegistryOutcome> ChangeOwnersAsync(CrateChange change, IReadOnlyList<string> logins, bool add, CancellationToken ct);

    /// <summary>Gives a private name back: index, crate files, then the claim, each deleted only as it was read.</summary>
    Task<RegistryOutcome> ReleaseNameAsync(CrateName name, bool deleteVersions, CancellationToken ct);
}

/// <summary>Who changes which crate: the user, whether the caller is an admin of the crate, and the name as the caller spelled it.</summary>
public sealed record CrateChange(string User, bool IsAdmin, CrateName Name);

/// <summary>
/// A version to commit: the index line the front end built (its name, version and cksum are checked against the
/// other fields), the stored file's sha256, and what the crate's metadata shows when this is its newest version.
/// </summary>
public sealed record VersionCommit(string User, CrateName Name, string Version, string Checksum, byte[] IndexLine, CrateDetails Details);

/// <summary>What a crate's metadata (and so search) shows of its newest version.</summary>
public sealed record CrateDetails(
    string? Description,
    IReadOnlyList<string> Keywords,
    IReadOnlyList<string> Categories,
    string? License,
    string? Repository,
    string? Homepage,
    string? Documentation)
{
    public static readonly CrateDetails None = new(null, [], [], null, null, null, null);
}

/// <summary>The end of a commit: committed (and whether it created the crate), or why not.</summary>
public readonly record struct CommitOutcome(RegistryError? Error, bool CreatedCrate)
{
    public bool Succeeded => Error is null;

    public static CommitOutcome Committed(bool createdCrate) => new(null, createdCrate);

    public static implicit operator CommitOutcome(RegistryError error) => new(error, false);
}

/// <summary>
/// The writer in this process only, over the configured store: for the CLI's offline commands and for processes
/// without a silo. The same code and the same storage fences as the cluster's grains; without the grain, concurrent
/// writers to one crate are serialised by those fences alone (they retry on conflict).
/// </summary>
public sealed class LocalPrivateCrateWriters(PrivateCrateWriter writer) : IPrivateCrateWriters
{
    public Task<CommitOutcome> CommitVersionAsync(VersionCommit commit, CancellationToken ct) =>
        writer.CommitVersionAsync(commit, retried: false, ct);

    public Task<RegistryOutcome> SetYankedAsync(CrateChange change, string version, bool yanked, CancellationToken ct) =>
        writer.SetYankedAsync(change, version, yanked, ct);

    public Task<RegistryOutcome> ChangeOwnersAsync(CrateChange change, IReadOnlyList<string> logins, bool add, CancellationToken ct) =>
        add ? writer.AddOwnersAsync(change, logins, ct) : writer.RemoveOwnersAsync(change, logins, retried: false, ct);

    public Task<RegistryOutcome> ReleaseNameAsync(CrateName name, bool deleteVersions, CancellationToken ct) =>
        writer.ReleaseNameAsync(name, deleteVersions, retried: false, ct);
}
