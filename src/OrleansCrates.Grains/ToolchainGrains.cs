using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Grains;

/// <summary>
/// The way the web code reaches toolchain file grains (keyed by the validated path), through the same retries as crate
/// grains (<see cref="GrainCalls"/>): a call that fails because a silo died, whose answer never comes, or whose silo is
/// leaving, is made again until <see cref="ToolchainOptions.ColdFetchDeadline"/> (derived from
/// <c>Toolchains:MaxArchiveBytes</c>); then the caller gets "unavailable" with Retry-After (503), never a hang.
/// </summary>
public sealed partial class ToolchainGrains(IGrainFactory grains, IOptions<ToolchainOptions> options, ILogger<ToolchainGrains> logger) : IToolchainOwners
{
    public Task<ToolchainFetch> EnsureAsync(string ownerPath, CancellationToken cancellationToken)
    {
        var grain = grains.GetGrain<IToolchainFileGrain>(ownerPath);
        var deadline = options.Value.ColdFetchDeadline;
        return GrainCalls.CallAsync(
            async (_, ct) => await grain.EnsureStoredAsync(ct) is { State: not ToolchainFileState.OwnerUnavailable } reply
                ? new ToolchainFetch((ToolchainFetchStatus)(int)reply.State, reply.Error, reply.RetryAfter, reply.FromUpstream)
                : null,
            deadline,
            CrateGrains.AttemptTimeout,
            error => ToolchainFetch.Unavailable($"{ownerPath}: {error}"),
            (attempt, error) => LogCallFailed(logger, ownerPath, attempt, error),
            (attempts, error) => LogGaveUp(logger, ownerPath, attempts, deadline.TotalSeconds, error),
            cancellationToken);
    }

    /// <summary>One call to the file's grain: where its download runs. A failure is the caller's to retry (<see cref="InFlightSpools.FollowAsync"/>).</summary>
    public async Task<SpoolLocation?> LocateDownloadAsync(string ownerPath, CancellationToken cancellationToken) =>
        CrateReplies.ToLocation(await grains.GetGrain<IToolchainFileGrain>(ownerPath).LocateDownloadAsync(cancellationToken));
}
