using System.Security.Claims;
using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Auth;

namespace OrleansCrates.Server.Services;

/// <summary>
/// The private registry's web API calls, with their access decisions: what a token may do with a crate is asked of
/// <see cref="CrateAccess"/> (one authorization handler); the registry's own rules (owners, versions) decide the rest.
/// Every outcome is a value; the handlers only turn it into an answer.
/// </summary>
public sealed class PrivateRegistryActions(PrivateRegistry registry, CrateAccess access, PublicNameGuard names, IOptions<PrivateRegistryOptions> options)
{
    /// <summary>
    /// A publish: the body is read and checked first (the crate's name is in it), then the token must be allowed to
    /// publish that crate, and a name no private crate holds yet must pass <see cref="PublicNameGuard"/>; only then is
    /// anything stored.
    /// </summary>
    public async Task<PublishResult> PublishAsync(ClaimsPrincipal caller, Stream body, CancellationToken ct)
    {
        var token = TokenIdentity.TokenOf(caller) ?? throw new InvalidOperationException("publish needs an authenticated caller");
        await using var prepared = await registry.PreparePublishAsync(body, ct);
        if (prepared.Error is { } invalid)
        {
            return PublishResult.Failure(invalid); // logged by the registry
        }

        if (!access.Allows(caller, TokenScope.Publish, prepared.Name.Value))
        {
            return registry.Refuse(prepared, RegistryError.Forbidden($"this token may not publish `{prepared.Name}` (scope {TokenStore.ScopeName(token.Scope)})"));
        }

        if (!await registry.HoldsNameAsync(prepared.Name, ct) && await names.RefusalOrNullAsync(caller, prepared.Name, ct) is { } unclaimable)
        {
            return registry.Refuse(prepared, unclaimable);
        }

        return await registry.PublishAsync(token.User, prepared, ct);
    }

    /// <summary>Yank or unyank: a token allowed to publish this crate; the registry then checks ownership (admins of the crate may act on any).</summary>
    public Task<CrateAction> SetYankedAsync(ClaimsPrincipal caller, string name, string version, bool yanked, CancellationToken ct) =>
        ActAsync(caller, name, TokenScope.Publish, (user, isAdmin, crate) => registry.YankAsync(user, isAdmin, crate, version, yanked, ct));

    public Task<CrateAction> ChangeOwnersAsync(ClaimsPrincipal caller, string name, IReadOnlyList<string> logins, bool add, CancellationToken ct) =>
        ActAsync(caller, name, TokenScope.Publish, (user, isAdmin, crate) => add
            ? registry.AddOwnersAsync(user, isAdmin, crate, logins, ct)
            : registry.RemoveOwnersAsync(user, isAdmin, crate, logins, ct));

    /// <summary>An admin token (for that name) gives a private name back (<see cref="PrivateRegistry.ReleaseNameAsync"/>).</summary>
    public Task<CrateAction> ReleaseNameAsync(ClaimsPrincipal caller, string name, bool deleteVersions, CancellationToken ct) =>
        ActAsync(caller, name, TokenScope.Admin, (_, _, crate) => registry.ReleaseNameAsync(crate, deleteVersions, ct));

    /// <summary>The owners of a crate; where reads are restricted, a crate outside the caller's reach does not exist (null).</summary>
    public async Task<OwnerList?> ListOwnersAsync(HttpContext context, string name)
    {
        if (!CrateName.TryParse(name, out var crate) || !await access.MayReadAsync(context, options.Value.ReadRequiresToken, name))
        {
            return null;
        }

        return await registry.ListOwnersAsync(crate.Value, context.RequestAborted);
    }

    /// <summary>Search; where reads are restricted, only crates within the caller's reach are listed and counted.</summary>
    public async Task<(IReadOnlyList<CrateSummary> Crates, int Total)> SearchAsync(HttpContext context, string? query, int perPage)
    {
        var result = await registry.SearchAsync(query, perPage, context.RequestAborted);
        if (!options.Value.ReadRequiresToken)
        {
            return (result.Crates, result.Total);
        }

        var visible = access.WithinReach(await access.CallerAsync(context), TokenScope.Read, result.Crates, c => c.Name);
        return (visible, visible.Count);
    }

    /// <summary>
    /// A call about one crate: outside the token's patterns (any scope, admin included) the crate does not exist for
    /// this caller; inside them, too small a scope is refused; a name that is not valid does not exist either.
    /// </summary>
    private async Task<CrateAction> ActAsync(ClaimsPrincipal caller, string name, TokenScope needed, Func<string, bool, CrateName, Task<RegistryOutcome>> act)
    {
        var token = TokenIdentity.TokenOf(caller) ?? throw new InvalidOperationException("needs an authenticated caller");
        var decision = access.Decide(caller, needed, name);
        if (decision != AccessDecision.Allowed)
        {
            return decision == AccessDecision.InsufficientScope
                ? CrateAction.Refused(RegistryError.Forbidden($"this action requires a token with scope {TokenStore.ScopeName(needed)} (this token's scope is {TokenStore.ScopeName(token.Scope)})"))
                : CrateAction.Missing;
        }

        if (!CrateName.TryParse(name, out var crate))
        {
            return CrateAction.Missing;
        }

        var isAdmin = access.Allows(caller, TokenScope.Admin, crate.Value.Value);
        var outcome = await act(token.User, isAdmin, crate.Value);
        return outcome.Succeeded ? CrateAction.Done(outcome.Message) : CrateAction.Refused(outcome.Error!.Value);
    }
}

/// <summary>The outcome of an action on one crate: done (with the registry's message), refused, or no such crate for this caller.</summary>
public readonly record struct CrateAction(CrateActionStatus Status, string? Message, RegistryError? Error)
{
    public static CrateAction Missing => new(CrateActionStatus.Missing, null, null);

    public static CrateAction Done(string? message) => new(CrateActionStatus.Done, message, null);

    public static CrateAction Refused(RegistryError error) => new(CrateActionStatus.Refused, null, error);
}

public enum CrateActionStatus
{
    Done,
    Refused,

    /// <summary>The crate does not exist, or is outside the token's reach (answered alike).</summary>
    Missing,
}
