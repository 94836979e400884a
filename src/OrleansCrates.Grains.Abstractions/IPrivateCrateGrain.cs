namespace OrleansCrates.Grains;

/// <summary>
/// One private crate, for the whole cluster; keyed by the crate's canonical name (lower case, '-' as '_'), so every
/// spelling meets at one grain. The single writer of the crate's claim, index file and metadata: publish's commit,
/// yank, owners and release run one at a time (not reentrant). Its writes stay create-only or ETag-conditional, the
/// fence against writers outside the cluster (another region, the offline CLI) and a brief duplicate activation.
/// No crate bytes in its messages: the front end stores the crate file before it asks for the commit, which carries
/// the index line only (bounded by the publish JSON's 1 MiB cap).
/// </summary>
public interface IPrivateCrateGrain : IGrainWithStringKey
{
    /// <param name="retried">The caller made this call before and does not know whether it landed.</param>
    Task<PrivateCrateReply> CommitVersionAsync(PrivateVersionCommit commit, bool retried, CancellationToken cancellationToken);

    Task<PrivateCrateReply> SetYankedAsync(PrivateCrateChange change, string version, bool yanked, CancellationToken cancellationToken);

    /// <param name="retried">The caller made this call before and does not know whether it landed.</param>
    Task<PrivateCrateReply> ChangeOwnersAsync(PrivateCrateChange change, string[] logins, bool add, bool retried, CancellationToken cancellationToken);

    /// <param name="retried">The caller made this call before and does not know whether it landed.</param>
    Task<PrivateCrateReply> ReleaseNameAsync(string name, bool deleteVersions, bool retried, CancellationToken cancellationToken);
}

/// <summary>Who changes the crate: the user, whether the caller is an admin of the crate, and the name as the caller spelled it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansCrates.PrivateCrateChange")]
public sealed record PrivateCrateChange(
    [property: Id(0)] string User,
    [property: Id(1)] bool IsAdmin,
    [property: Id(2)] string Name);

/// <summary>
/// A version to commit, its file already stored: the index line the front end built, the file's sha256, and what
/// the crate's metadata shows when it is the newest version.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansCrates.PrivateVersionCommit")]
public sealed record PrivateVersionCommit(
    [property: Id(0)] string User,
    [property: Id(1)] string Name,
    [property: Id(2)] string Version,
    [property: Id(3)] string Checksum,
    [property: Id(4)] byte[] IndexLine,
    [property: Id(5)] PrivateCrateDetails Details);

[GenerateSerializer, Immutable, Alias("OrleansCrates.PrivateCrateDetails")]
public sealed record PrivateCrateDetails(
    [property: Id(0)] string? Description,
    [property: Id(1)] string[] Keywords,
    [property: Id(2)] string[] Categories,
    [property: Id(3)] string? License,
    [property: Id(4)] string? Repository,
    [property: Id(5)] string? Homepage,
    [property: Id(6)] string? Documentation);

[GenerateSerializer]
public enum PrivateCrateOutcome
{
    /// <summary>Done; <c>Message</c> is cargo's <c>msg</c>.</summary>
    Done,

    /// <summary>Refused by the registry's rules: <c>Status</c> and <c>Message</c> are what cargo is told.</summary>
    Refused,

    /// <summary>Storage failed under the change (unreachable, full): nothing is known to have landed; retry later (503).</summary>
    StorageUnavailable,
}

/// <summary>How a change to a private crate ended (an outcome value: expected refusals never cross silos as exceptions).</summary>
[GenerateSerializer, Immutable, Alias("OrleansCrates.PrivateCrateReply")]
public sealed record PrivateCrateReply(
    [property: Id(0)] PrivateCrateOutcome Outcome,
    [property: Id(1)] int Status,
    [property: Id(2)] string? Message,
    [property: Id(3)] bool CreatedCrate);
