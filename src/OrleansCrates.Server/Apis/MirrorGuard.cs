using Microsoft.Extensions.Options;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Auth;

namespace OrleansCrates.Server.Apis;

/// <summary>
/// What the mirror refuses before it looks anything up: crates outside a token's patterns where reads are
/// restricted (404). Public crates whose name a private crate holds (the dependency-confusion guard,
/// <c>Registry:Private:ShadowPolicy</c> = Block) answer exactly as a crate upstream does not have. It also applies
/// the curation policy (<c>Mirror:Policy</c>): hidden versions leave the served index, and their downloads get 403.
/// </summary>
public sealed class MirrorGuard(CrateAccess access, PrivateRegistry registry, MirrorPolicy policy, IOptions<MirrorOptions> mirror, IOptions<PrivateRegistryOptions> privateRegistry)
{
    public async Task<IResult?> RefusalOrNullAsync(HttpContext context, CrateName name)
    {
        if (!await access.MayReadAsync(context, mirror.Value.ReadRequiresToken, name.Value))
        {
            return PlainText.NotFound("not found");
        }

        return null;
    }

    /// <summary>
    /// Whether a private crate holds this name (the dependency-confusion guard). Asked where upstream would be asked,
    /// after every other check, and answered by the caller exactly as upstream's "no such crate": the mirror never
    /// tells anyone that a name is a private crate's (that would list private names to anonymous callers).
    /// </summary>
    public async Task<bool> IsShadowedAsync(HttpContext context, CrateName name) =>
        privateRegistry.Value.ShadowPolicy == ShadowPolicy.Block && await registry.IsPrivateCrateAsync(name, context.RequestAborted);

    /// <summary>404 when the policy hides every version of the crate whatever upstream has: upstream is not asked.</summary>
    public IResult? PolicyHidesCrateOrNull(CrateName name) =>
        policy.EvaluateName(name) == PolicyVerdict.Visible ? null : PlainText.NotFound($"'{name}' is not served by this mirror's policy");

    /// <summary>The index file as the policy lets cargo see it: hidden versions' lines removed, 404 when none is left.</summary>
    public async Task<IResult> PolicyIndexAsync(HttpContext context, CrateName name, IndexResult result)
    {
        if (!policy.IsActive)
        {
            return new IndexBytesResult(result.Entry!.Stored!.Body, "text/plain", result.IsStale ? result.Age : null, result.Entry.ETag);
        }

        var served = await policy.FilterAsync(name, result.Entry!, RequesterOf(context), context.RequestAborted);
        return served.AnyVisible
            ? new IndexBytesResult(served.Body, "text/plain", result.IsStale ? result.Age : null, served.ETag)
            : PlainText.NotFound($"no version of '{name}' is served by this mirror's policy (yet)");
    }

    /// <summary>403 with the reason when the policy does not let this version be downloaded.</summary>
    public async Task<IResult?> PolicyRefusalOrNullAsync(HttpContext context, CrateName name, string version)
    {
        if (!policy.IsActive)
        {
            return null;
        }

        var verdict = await policy.CheckVersionAsync(name, version, RequesterOf(context), context.RequestAborted);
        return verdict == PolicyVerdict.Visible ? null : PlainText.Status(StatusCodes.Status403Forbidden, MirrorPolicy.Explain(verdict, name, version));
    }

    /// <summary>
    /// Who asks, for pending approvals: the token's user, else a hash of the client's address. A HEAD asks for nothing
    /// (CDNs and probes send them), so it records no pending approval.
    /// </summary>
    private Func<CancellationToken, Task<string>>? RequesterOf(HttpContext context) =>
        HttpMethods.IsHead(context.Request.Method) ? null : async _ =>
            TokenIdentity.TokenOf(await access.CallerAsync(context)) is { } caller ? caller.User : ApprovalStore.ClientOf(context.Connection.RemoteIpAddress);
}
