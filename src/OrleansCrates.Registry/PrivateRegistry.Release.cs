using Microsoft.Extensions.Logging;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    /// <summary>
    /// Gives a private name back (an administrator's act, CLI <c>private release</c> or the admin API): the crate's
    /// index file, its crate files and finally its claim (metadata) are deleted, after which the mirror serves the
    /// public crate of that name again (other nodes within <see cref="PrivateRegistryOptions.PrivateNameCacheTtl"/>).
    /// A name with published versions is released only with <paramref name="deleteVersions"/> (409 otherwise: those
    /// versions disappear for everyone who depends on them). The claim goes last, so a release interrupted half-way
    /// leaves the name still claimed and the release can simply be run again. 404 for a name no private crate holds.
    /// </summary>
    public async Task<RegistryOutcome> ReleaseNameAsync(CrateName name, bool deleteVersions, CancellationToken ct)
    {
        var existing = await ReadMetaAsync(name, ct);
        if (existing is null)
        {
            return RegistryError.NotFound($"crate `{name}` does not exist");
        }

        var crateName = CrateName.Parse(existing.Meta.Name);
        var indexKey = RegistryKeys.Index(crateName);
        var index = await _store.ReadSmallOrNullAsync(indexKey, ct);
        var versions = index is null ? 0 : PrivateIndexLines.Versions(index.Value.Content).Count;
        if (versions > 0 && !deleteVersions)
        {
            return RegistryError.Conflict(
                $"crate `{crateName}` has {versions} published version(s); releasing the name deletes them for everyone (confirm with delete_versions / --delete-versions)");
        }

        if (index is not null)
        {
            await _store.DeleteAsync(indexKey, ifMatch: null, ct);
            ForgetIndex(indexKey);
        }

        var files = new List<string>();
        await foreach (var file in _store.ListAsync($"{RegistryKeys.CratePrefix}{crateName.IndexPath}/", ct))
        {
            files.Add(file.Key);
        }

        foreach (var file in files)
        {
            await _store.DeleteAsync(file, ifMatch: null, ct);
        }

        await _store.DeleteAsync(RegistryKeys.Meta(crateName), ifMatch: null, ct);
        _metaCache.TryRemove(RegistryKeys.Meta(crateName), out _);
        RememberPrivateName(crateName.Canonical, false);
        Log.NameReleased(_logger, crateName.Value, versions, files.Count);
        return RegistryOutcome.Ok($"released `{crateName}`: {versions} version(s) and {files.Count} crate file(s) deleted; the mirror serves the public crate of that name again");
    }
}
