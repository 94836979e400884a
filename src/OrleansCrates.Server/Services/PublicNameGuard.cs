using Microsoft.Extensions.Options;
using System.Security.Claims;
using OrleansCrates.Accounts;
using OrleansCrates.Server.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Services;

/// <summary>
/// Whether a publish may claim a name no private crate holds yet. Where a private name hides the public crate on the
/// mirror (<c>Registry:Private:ShadowPolicy</c> = Block), claiming a name that exists upstream — or one that cannot be
/// checked because every upstream fails — needs an admin token for that name, or the name on
/// <c>Registry:Private:AllowedPublicNames</c>. Upstream is asked through the mirror's own coordinator (the same
/// lookup, single-flight, failover and not-found memory as a cargo request), never by a client of its own.
/// </summary>
public sealed class PublicNameGuard(CrateCoordinator coordinator, CrateAccess access, IOptions<PrivateRegistryOptions> options)
{
    public async Task<RegistryError?> RefusalOrNullAsync(ClaimsPrincipal caller, CrateName name, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.ShadowPolicy != ShadowPolicy.Block || access.Allows(caller, TokenScope.Admin, name.Value) ||
            (settings.AllowedPublicNames.Count > 0 && CratePattern.AnyMatches(settings.AllowedPublicNames, name.Value)))
        {
            return null;
        }

        var upstream = await coordinator.GetIndexAsync(name, cancellationToken);
        return upstream.Status switch
        {
            IndexStatus.NotFound => null,
            IndexStatus.Found => RegistryError.Forbidden(
                $"`{name}` is the name of a public crate upstream; a private crate of that name would hide it on this mirror. " +
                $"Publishing it needs an admin token, or the name in {PrivateRegistryOptions.SectionName}:AllowedPublicNames"),
            _ => RegistryError.Forbidden(
                $"could not check whether `{name}` is the name of a public crate (upstream unavailable); until it can be checked, " +
                $"claiming the name needs an admin token, or the name in {PrivateRegistryOptions.SectionName}:AllowedPublicNames"),
        };
    }
}
