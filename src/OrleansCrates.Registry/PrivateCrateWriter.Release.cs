using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

public sealed partial class PrivateCrateWriter
{
    /// <summary>
    /// Gives a private name back (an administrator's act, CLI <c>private release</c> or the admin API): the crate's
    /// index file, its crate files and finally its claim (metadata) are deleted, after which the mirror serves the
    /// public crate of that name again. A name with published versions is released only with
    /// <paramref name="deleteVersions"/> (409 otherwise: those versions disappear for everyone who depends on them).
    /// The claim goes last, so a release interrupted half-way leaves the name still claimed and it can simply be run
    /// again. The index and the claim are deleted only as they were read (If-Match): if another writer changed either
    /// in between (a publish in another region, a duplicate activation), the release reads again and decides again, and
    /// a version that lands after the claim is gone puts the claim back (409). 404 for a name no private crate holds;
    /// <paramref name="retried"/>: an earlier call of this release may have finished, so a name already gone is released.
    /// </summary>
    public async Task<RegistryOutcome> ReleaseNameAsync(CrateName name, bool deleteVersions, bool retried, CancellationToken ct)
    {
        var metaKey = RegistryKeys.Meta(name);
        var versionsDeleted = 0;
        var filesDeleted = 0;
        for (var attempt = 1; ; attempt++)
        {
            if (attempt > 1)
            {
                Log.WriteConflict(logger, metaKey, attempt - 1);
                if (attempt > MaxUpdateAttempts)
                {
                    Log.TooManyConflicts(logger, metaKey, MaxUpdateAttempts);
                    return CrateMetaDocument.TooManyConflicts(name);
                }

                await Task.Delay(ConditionalUpdate.Backoff(attempt - 1), ct);
            }

            var existing = await CrateMetaDocument.ReadAsync(store, name, ct);
            if (existing is null)
            {
                return retried || attempt > 1
                    ? RegistryOutcome.Ok($"released `{name}`: {versionsDeleted} version(s) and {filesDeleted} crate file(s) deleted; the mirror serves the public crate of that name again")
                    : RegistryError.NotFound($"crate `{name}` does not exist");
            }

            var crateName = CrateName.Parse(existing.Meta.Name);
            var indexKey = RegistryKeys.Index(crateName);
            var index = await store.ReadSmallOrNullAsync(indexKey, ct);
            var versions = index is null ? 0 : PrivateIndexLines.Versions(index.Value.Content).Count;
            if (versions > 0 && !deleteVersions)
            {
                return RegistryError.Conflict(
                    $"crate `{crateName}` has {versions} published version(s); releasing the name deletes them for everyone (confirm with delete_versions / --delete-versions)");
            }

            if (index is not null)
            {
                var deleted = await store.DeleteAsync(indexKey, index.Value.ETag, ct);
                if (deleted == DeleteResult.PreconditionFailed)
                {
                    continue; // a version landed or was yanked meanwhile: decide again on what is there now
                }

                versionsDeleted += deleted == DeleteResult.Deleted ? versions : 0;
            }

            // Crate files are content-addressed and never rewritten; each is deleted as listed.
            var files = new List<ObjectProperties>();
            await foreach (var file in store.ListAsync($"{RegistryKeys.CratePrefix}{crateName.IndexPath}/", ct))
            {
                files.Add(file);
            }

            foreach (var file in files)
            {
                if (await store.DeleteAsync(file.Key, file.ETag, ct) == DeleteResult.Deleted)
                {
                    filesDeleted++;
                }
            }

            var claim = await store.DeleteAsync(metaKey, existing.ETag, ct);
            if (claim == DeleteResult.PreconditionFailed)
            {
                continue; // owners changed or a publish refreshed it: read again
            }

            // A version committed between the index delete and the claim delete (by a writer that read the claim
            // before it went) must not be left without its claim: put it back, and let the administrator decide again.
            if (await store.ReadSmallOrNullAsync(indexKey, ct) is { } late && PrivateIndexLines.Versions(late.Content).Count > 0)
            {
                await store.PutAsync(metaKey, CrateMetaDocument.Serialize(existing.Meta), WriteCondition.IfNotExists, ct);
                await RefreshMetaAsync(crateName, null, null, ct);
                return RegistryError.Conflict($"a version of `{crateName}` was published while it was being released; the name stays claimed (release it again)");
            }

            Log.NameReleased(logger, crateName.Value, versionsDeleted, filesDeleted);
            return RegistryOutcome.Ok($"released `{crateName}`: {versionsDeleted} version(s) and {filesDeleted} crate file(s) deleted; the mirror serves the public crate of that name again");
        }
    }
}
