using System.Runtime.CompilerServices;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

/// <summary>A private name that is claimed (its metadata exists) but has no version in its index.</summary>
public sealed record UnpublishedClaim(string Name, string MetaKey, string Detail);

public sealed partial class PrivateRegistry
{
    /// <summary>
    /// Every claimed name without a version, read from <paramref name="store"/> alone (for <c>verify</c>). A publish
    /// releases its claim when its first version does not land, so one of these means a process died mid-publish (or
    /// the release failed): the name blocks the public crate of that name until an admin releases it.
    /// </summary>
    public static async IAsyncEnumerable<UnpublishedClaim> FindUnpublishedClaimsAsync(IObjectStore store, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var properties in store.ListAsync(RegistryKeys.MetaPrefix, ct))
        {
            if (RegistryKeys.CanonicalFromMetaKey(properties.Key) is not { } canonical)
            {
                continue;
            }

            var stored = await store.ReadSmallOrNullAsync(properties.Key, ct);
            if (stored is null)
            {
                continue;
            }

            var (meta, unreadable) = CrateMetaDocument.TryParse(properties.Key, stored.Value.Content);
            if (meta is null)
            {
                yield return new UnpublishedClaim(canonical, properties.Key, unreadable!);
                continue;
            }

            var index = await store.ReadSmallOrNullAsync(RegistryKeys.Index(CrateName.Parse(meta.Name)), ct);
            if (index is null || PrivateIndexLines.Versions(index.Value.Content).Count == 0)
            {
                yield return new UnpublishedClaim(
                    meta.Name,
                    properties.Key,
                    $"the name is claimed (owners: {string.Join(", ", meta.Owners)}; since {meta.Created:u}) but has no version: a publish did not finish");
            }
        }
    }
}
