using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Apis;

namespace OrleansCrates.Server.Hosting;

/// <summary>
/// What the mirror refuses before it looks anything up: crates outside a token's patterns where reads are
/// restricted, and public crates whose name a private crate holds (the dependency-confusion guard,
/// <c>Registry:Private:ShadowPolicy</c> = Block). Both answer 404, as if the crate did not exist.
/// </summary>
public sealed class MirrorGuard(RegistryAccess access, PrivateRegistry registry, IOptions<MirrorOptions> mirror, IOptions<PrivateRegistryOptions> privateRegistry)
{
    public async Task<IResult?> RefusalOrNullAsync(HttpContext context, CrateName name)
    {
        if (!await access.MayReadAsync(context, mirror.Value.ReadRequiresToken, name.Value))
        {
            return PlainText.NotFound("not found");
        }

        if (privateRegistry.Value.ShadowPolicy == ShadowPolicy.Block && await registry.IsPrivateCrateAsync(name.Canonical, context.RequestAborted))
        {
            return PlainText.NotFound($"'{name}' is the name of a private crate; the mirror does not serve the public crate of that name");
        }

        return null;
    }
}
