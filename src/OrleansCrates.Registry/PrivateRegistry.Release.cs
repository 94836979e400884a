using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    /// <summary>
    /// Gives a private name back through the crate's writer (<see cref="PrivateCrateWriter.ReleaseNameAsync"/>): the
    /// index file, crate files and finally the claim are deleted, each only as it was read; 409 while it has versions
    /// and deleting them was not asked for; 404 for a name no private crate holds. The mirror on this node serves the
    /// public crate of that name at once, other nodes within <see cref="PrivateRegistryOptions.PrivateNameCacheTtl"/>.
    /// </summary>
    public async Task<RegistryOutcome> ReleaseNameAsync(CrateName name, bool deleteVersions, CancellationToken ct)
    {
        var outcome = await _writers.ReleaseNameAsync(name, deleteVersions, ct);
        if (outcome.Succeeded)
        {
            _metaCache.TryRemove(RegistryKeys.Meta(name), out _);
            RememberPrivateName(name.Canonical, false);
        }

        return outcome;
    }
}
