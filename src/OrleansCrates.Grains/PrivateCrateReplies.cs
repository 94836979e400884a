using OrleansCrates.Protocol;
using OrleansCrates.Registry;

namespace OrleansCrates.Grains;

/// <summary>The registry's outcomes and requests as the private crate grain's messages carry them, and back.</summary>
internal static class PrivateCrateReplies
{
    public const string StorageUnavailableDetail = "storage unavailable, retry later";

    public static PrivateCrateReply From(RegistryOutcome outcome) => outcome.Error is { } error
        ? new PrivateCrateReply(PrivateCrateOutcome.Refused, error.Status, error.Detail, false)
        : new PrivateCrateReply(PrivateCrateOutcome.Done, 200, outcome.Message, false);

    public static PrivateCrateReply From(CommitOutcome outcome) => outcome.Error is { } error
        ? new PrivateCrateReply(PrivateCrateOutcome.Refused, error.Status, error.Detail, false)
        : new PrivateCrateReply(PrivateCrateOutcome.Done, 200, null, outcome.CreatedCrate);

    public static PrivateCrateReply Refused(RegistryError error) => new(PrivateCrateOutcome.Refused, error.Status, error.Detail, false);

    public static PrivateCrateReply StorageUnavailable() => new(PrivateCrateOutcome.StorageUnavailable, 503, StorageUnavailableDetail, false);

    public static RegistryOutcome ToOutcome(PrivateCrateReply reply) =>
        reply.Outcome == PrivateCrateOutcome.Done ? RegistryOutcome.Ok(reply.Message ?? "") : ToError(reply);

    public static CommitOutcome ToCommit(PrivateCrateReply reply) =>
        reply.Outcome == PrivateCrateOutcome.Done ? CommitOutcome.Committed(reply.CreatedCrate) : ToError(reply);

    /// <summary>A refusal as cargo is told it; storage that failed under the change is a 503 (with Retry-After), as on the front end.</summary>
    public static RegistryError ToError(PrivateCrateReply reply) => reply.Outcome == PrivateCrateOutcome.StorageUnavailable
        ? RegistryError.Unavailable(reply.Message ?? StorageUnavailableDetail)
        : new RegistryError(reply.Status, reply.Message ?? "refused");

    public static PrivateVersionCommit ToMessage(VersionCommit commit) => new(
        commit.User,
        commit.Name.Value,
        commit.Version,
        commit.Checksum,
        commit.IndexLine,
        new PrivateCrateDetails(
            commit.Details.Description,
            [.. commit.Details.Keywords],
            [.. commit.Details.Categories],
            commit.Details.License,
            commit.Details.Repository,
            commit.Details.Homepage,
            commit.Details.Documentation));

    public static VersionCommit FromMessage(PrivateVersionCommit commit, CrateName name) => new(
        commit.User,
        name,
        commit.Version,
        commit.Checksum,
        commit.IndexLine,
        new CrateDetails(
            commit.Details.Description,
            commit.Details.Keywords,
            commit.Details.Categories,
            commit.Details.License,
            commit.Details.Repository,
            commit.Details.Homepage,
            commit.Details.Documentation));

    public static PrivateCrateChange ToMessage(CrateChange change) => new(change.User, change.IsAdmin, change.Name.Value);
}
