using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Auth;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Services;

/// <summary>What the mirror decides about a read before it looks the crate up (<see cref="MirrorReads.CheckAsync"/>).</summary>
public enum MirrorReadOutcome
{
    /// <summary>Serve it: look the index file or the crate file up.</summary>
    Allowed,

    /// <summary>Reads need a token and the crate is outside the caller's patterns: answered as a crate that does not exist (404).</summary>
    OutOfReach,

    /// <summary>The curation policy hides every version of the crate, whatever upstream has (index files; upstream is not asked).</summary>
    HiddenByPolicy,

    /// <summary>The policy does not let this version be downloaded (<see cref="MirrorReadDecision.Verdict"/> says why).</summary>
    Forbidden,

    /// <summary>
    /// A private crate holds the name (the dependency-confusion guard, <c>Registry:Private:ShadowPolicy</c> = Block):
    /// answered exactly as upstream's "no such crate", so no one learns that a name is a private crate's.
    /// </summary>
    Shadowed,
}

/// <summary>The outcome of <see cref="MirrorReads.CheckAsync"/>; <see cref="Verdict"/> is the policy's reason when <see cref="MirrorReadOutcome.Forbidden"/>.</summary>
public readonly record struct MirrorReadDecision(MirrorReadOutcome Outcome, PolicyVerdict Verdict = PolicyVerdict.Visible);

/// <summary>An index file as the policy lets cargo see it; <see cref="AnyVisible"/> is false when it hides every version.</summary>
public readonly record struct VisibleIndex(ReadOnlyMemory<byte> Body, string? ETag, bool AnyVisible);

/// <summary>
/// The mirror's read rules, for the index files and downloads cargo asks for (<c>/index/</c>, <c>/crates/…/download</c>):
/// the caller's reach where reads need a token, the curation policy (<c>Mirror:Policy</c>: hidden versions leave the
/// served index, their downloads are refused) with pending approvals recorded for whoever asked, and the
/// dependency-confusion guard, asked where upstream would be asked, after every other check. Outcomes are values; the
/// endpoints turn them into answers. On the warm path (no policy, no restriction, no guard) nothing here allocates.
/// </summary>
public sealed class MirrorReads(CrateAccess access, PrivateRegistry registry, MirrorPolicy policy, IObjectStore store, IOptions<MirrorOptions> mirror, IOptions<PrivateRegistryOptions> privateRegistry)
{
    /// <summary>
    /// Whether the caller may read <paramref name="name"/>'s index file (<paramref name="version"/> null) or that
    /// version's crate file: reach first, then the policy (on the name for an index file, on the version for a download),
    /// then the guard.
    /// </summary>
    public async ValueTask<MirrorReadDecision> CheckAsync(HttpContext context, CrateName name, string? version)
    {
        if (!await access.MayReadAsync(context, mirror.Value.ReadRequiresToken, name.Value))
        {
            return new(MirrorReadOutcome.OutOfReach);
        }

        if (version is null)
        {
            if (policy.EvaluateName(name) is not PolicyVerdict.Visible and var hidden)
            {
                return new(MirrorReadOutcome.HiddenByPolicy, hidden);
            }
        }
        else if (policy.IsActive && await policy.CheckVersionAsync(name, version, RequesterOf(context), context.RequestAborted) is not PolicyVerdict.Visible and var refused)
        {
            return new(MirrorReadOutcome.Forbidden, refused);
        }

        return await IsShadowedAsync(name, context.RequestAborted)
            ? new(MirrorReadOutcome.Shadowed)
            : new(MirrorReadOutcome.Allowed);
    }

    /// <summary>
    /// The dependency-confusion guard alone: whether a private crate holds <paramref name="name"/> where that hides the
    /// public crate (<c>Registry:Private:ShadowPolicy</c> = Block), so upstream is never asked for it.
    /// </summary>
    public async ValueTask<bool> IsShadowedAsync(CrateName name, CancellationToken cancellationToken) =>
        privateRegistry.Value.ShadowPolicy == ShadowPolicy.Block && await registry.IsPrivateCrateAsync(name, cancellationToken);

    /// <summary>The found index file as served under the policy: hidden versions' lines removed (as is, without a policy).</summary>
    public ValueTask<VisibleIndex> VisibleIndexAsync(HttpContext context, CrateName name, IndexEntry entry) =>
        policy.IsActive
            ? FilteredAsync(context, name, entry)
            : new(new VisibleIndex(entry.Stored!.Body, entry.ETag, AnyVisible: true));

    private async ValueTask<VisibleIndex> FilteredAsync(HttpContext context, CrateName name, IndexEntry entry)
    {
        var served = await policy.FilterAsync(name, entry, RequesterOf(context), context.RequestAborted);
        return new(served.Body, served.ETag, served.AnyVisible);
    }

    /// <summary>What a HEAD of a download reports: the stored file's properties, or null while this mirror does not hold it (a HEAD never downloads).</summary>
    public Task<ObjectProperties?> StoredFileOrNullAsync(CrateName name, string version, CancellationToken cancellationToken) =>
        store.GetPropertiesOrNullAsync(MirrorKeys.CrateFile(name, version), cancellationToken);

    /// <summary>Records a served download for the token that asked (nothing for anonymous callers).</summary>
    public Task RecordDownloadAsync(HttpContext context, CrateName name, string version) =>
        access.RecordDownloadAsync(context, DownloadRecord.Mirror, name.Value, version);

    /// <summary>
    /// Who asks, for pending approvals: the token's user, else a hash of the client's address. A HEAD asks for nothing
    /// (CDNs and probes send them), so it records no pending approval.
    /// </summary>
    private Func<CancellationToken, Task<string>>? RequesterOf(HttpContext context) =>
        HttpMethods.IsHead(context.Request.Method) ? null : async _ =>
            TokenIdentity.TokenOf(await access.CallerAsync(context)) is { } caller ? caller.User : ApprovalStore.ClientOf(context.Connection.RemoteIpAddress);
}
