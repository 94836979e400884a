using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    /// <summary>
    /// Publishes a version from cargo's <c>PUT /api/v1/crates/new</c> body. Size limits are enforced from the length
    /// prefixes before the parts are read (413); a truncated or garbled body, a rule broken or a duplicate version is
    /// 400; publishing a new version of a crate one does not own is 403. On success the version is in the index.
    /// </summary>
    /// <remarks>
    /// Order: read and check everything that needs no storage (body, JSON, name, version, dependencies, tarball), then
    /// the crate's owners and spelling; claim a new name create-only (a racing first publish by someone else gets
    /// 403); store the crate file create-only under a content-addressed key; append the line to the index with an
    /// ETag-conditional write, re-checking for the version on every attempt (so exactly one of several racing
    /// publishes of one version wins, and publishes of different versions all land); finally refresh the crate's
    /// metadata (max_version, description).
    /// </remarks>
    public async Task<PublishResult> PublishAsync(string user, Stream body, CancellationToken ct)
    {
        await using var prepared = await PreparePublishAsync(body, ct);
        return prepared.Error is { } refused ? PublishResult.Failure(refused) : await PublishAsync(user, prepared, ct);
    }

    /// <summary>
    /// Reads and checks a publish body: everything that needs no storage (size limits from the length prefixes, then
    /// the JSON, name, version, dependencies). The caller learns the crate's name and version (to decide whether the
    /// caller may publish it) before anything is stored, then commits with <see cref="PublishAsync(string, PreparedPublish, CancellationToken)"/>
    /// or disposes it. Refusals are logged here and carried in <see cref="PreparedPublish.Error"/>.
    /// </summary>
    public async Task<PreparedPublish> PreparePublishAsync(Stream body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        var (upload, readError) = await PublishUpload.ReadAsync(body, _spool, _options.MaxMetadataBytes, _options.MaxCrateBytes, ct);
        if (upload is null)
        {
            return PreparedPublish.Refused(Refused("(unread)", "", readError!.Value));
        }

        if (!NewCrateRules.TryParse(upload.Metadata, out var request, out var parseError))
        {
            await upload.DisposeAsync();
            return PreparedPublish.Refused(Refused("(unparsed)", "", parseError!.Value));
        }

        if (NewCrateRules.Validate(request!, out var crate) is { } invalid)
        {
            await upload.DisposeAsync();
            return PreparedPublish.Refused(Refused(request!.Name ?? "", request.Vers ?? "", invalid));
        }

        return new PreparedPublish(crate!, upload);
    }

    /// <summary>A publish the caller refused after <see cref="PreparePublishAsync"/> (its token may not publish the crate): logged as any refusal.</summary>
    public PublishResult Refuse(PreparedPublish prepared, RegistryError error) =>
        Refused(prepared.Name.Value, prepared.Version, error);

    /// <summary>
    /// Commits a prepared publish (see the remarks of <see cref="PublishAsync(string, Stream, CancellationToken)"/>
    /// for the order): the crate's owners and spelling, the tarball, then the file, the claim and the index line.
    /// </summary>
    public async Task<PublishResult> PublishAsync(string user, PreparedPublish prepared, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        if (prepared.Error is { } refused)
        {
            return PublishResult.Failure(refused);
        }

        var crate = prepared.Crate!;
        var result = await PublishValidatedAsync(user, crate, prepared.Upload!, ct);
        return result.Error is { } error ? Refused(crate.Name.Value, crate.Version, error) : result;
    }

    /// <summary>Whether a private crate holds this name already (a publish of a new version, not a claim).</summary>
    public Task<bool> HoldsNameAsync(CrateName name, CancellationToken ct) => CheckPrivateNameAsync(name, ct);

    private RegistryError Refused(string crate, string version, RegistryError error)
    {
        Log.PublishRefused(_logger, crate, version, error.Status, error.Detail);
        return error;
    }

    private async Task<PublishResult> PublishValidatedAsync(string user, ValidatedCrate crate, PublishUpload upload, CancellationToken ct)
    {
        var name = crate.Name;
        var existing = await ReadMetaAsync(name, ct);
        if (existing is not null && CheckPublisher(existing.Meta, user, name) is { } denied)
        {
            return denied;
        }

        upload.CrateFile.Position = 0;
        if (await CrateTarball.CheckAsync(upload.CrateFile, name.Value, crate.Version, _options.MaxUnpackedBytes, _options.MaxCrateEntries, ct) is { } badTarball)
        {
            return badTarball;
        }

        // Dependencies on this registry must name crates it has (as crates.io requires of its own).
        foreach (var dep in crate.Dependencies)
        {
            var depName = CrateName.Parse(dep.Name!);
            if (dep.Registry is null && depName.Canonical != name.Canonical && !await CheckPrivateNameAsync(depName, ct))
            {
                return RegistryError.BadRequest($"no known crate named `{dep.Name}` in this registry (a dependency of `{name}`)");
            }
        }

        var indexKey = RegistryKeys.Index(name);
        if (existing is not null && await _store.ReadSmallOrNullAsync(indexKey, ct) is { } currentIndex && FindSameVersion(currentIndex.Content, crate.Version) is { } already)
        {
            return AlreadyUploaded(crate.Version, already);
        }

        // The file first, so no node ever sees an index line whose file is missing, and so nothing slow stands between
        // claiming a new name and committing its first version. Content-addressed and create-only: an existing object
        // under this key has these very bytes (a publish that loses later leaves only an unreferenced file).
        upload.CrateFile.Position = 0;
        await _store.PutAsync(RegistryKeys.CrateFile(name, crate.Version, upload.Sha256), upload.CrateFile, WriteCondition.IfNotExists, ct);

        Claim? claim = null;
        if (existing is null)
        {
            var (claimed, lost) = await ClaimAsync(user, name, ct);
            if (lost is not null)
            {
                return lost.Value;
            }

            claim = claimed;
        }

        // All or nothing: a name this publish claimed is released again unless its version is committed.
        PublishResult result;
        try
        {
            result = await CommitVersionAsync(user, crate, upload, indexKey, claim is not null, ct);
        }
        catch
        {
            if (claim is not null)
            {
                await ReleaseClaimAsync(name, claim, user);
            }

            throw;
        }

        if (!result.Succeeded && claim is not null)
        {
            await ReleaseClaimAsync(name, claim, user);
        }

        return result;
    }

    /// <summary>
    /// Claims a new name create-only. Null claim and no error: someone created the crate meanwhile and this user may
    /// publish to it (the same rules as for any existing crate).
    /// </summary>
    private async Task<(Claim? Claim, RegistryError? Error)> ClaimAsync(string user, CrateName name, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var meta = new CrateMeta { Name = name.Value, Owners = [user], Created = now, Updated = now };
        var put = await _store.PutAsync(RegistryKeys.Meta(name), SerializeMeta(meta), WriteCondition.IfNotExists, ct);
        if (put.Succeeded)
        {
            RememberPrivateName(name.Canonical, true);
            return (new Claim(meta, put.ETag), null);
        }

        var existing = await ReadMetaAsync(name, ct);
        if (existing is null)
        {
            return (null, TooManyConflicts(name));
        }

        return (null, CheckPublisher(existing.Meta, user, name));
    }

    private async Task<PublishResult> CommitVersionAsync(string user, ValidatedCrate crate, PublishUpload upload, string indexKey, bool created, CancellationToken ct)
    {
        var name = crate.Name;
        var line = PrivateIndexLines.Build(crate, upload.Sha256, _time.GetUtcNow());
        var (completed, duplicate) = await CompareAndSwapAsync<string?>(indexKey, current =>
        {
            if (current is not null && FindSameVersion(current, crate.Version) is { } taken)
            {
                return new UpdateDecision<string?>(null, taken);
            }

            return new UpdateDecision<string?>(Append(current, line), null);
        }, ct);
        if (!completed)
        {
            return TooManyConflicts(name);
        }

        if (duplicate is not null)
        {
            return AlreadyUploaded(crate.Version, duplicate);
        }

        await RefreshMetaAsync(name, crate, ct);
        Log.Published(_logger, user, name.Value, crate.Version, upload.Sha256, created);
        return PublishResult.Success(new PublishedVersion(name.Value, crate.Version, upload.Sha256, created, crate.Warnings));
    }

    /// <summary>
    /// Undoes a claim whose first version did not land: deletes the meta this publish wrote (only if unchanged) while
    /// the crate has no version. A version that landed meanwhile (the same user publishing another version at once) is
    /// seen by the check after the delete, which puts the claim back. Runs even when the request was cancelled, under
    /// its own deadline; a failure here is logged and left to <c>verify</c>, which reports claims without versions.
    /// </summary>
    private async Task ReleaseClaimAsync(CrateName name, Claim claim, string user)
    {
        using var deadline = new CancellationTokenSource(ReleaseDeadline);
        var ct = deadline.Token;
        var metaKey = RegistryKeys.Meta(name);
        try
        {
            if (claim.ETag is null || await HasVersionsAsync(name, ct))
            {
                return;
            }

            if (await _store.DeleteAsync(metaKey, claim.ETag, ct) != DeleteResult.Deleted)
            {
                return;
            }

            RememberPrivateName(name.Canonical, false);
            if (await HasVersionsAsync(name, ct))
            {
                await _store.PutAsync(metaKey, SerializeMeta(claim.Meta), WriteCondition.IfNotExists, ct);
                RememberPrivateName(name.Canonical, true);
                await RefreshMetaAsync(name, null, ct);
                return;
            }

            Log.ClaimReleased(_logger, user, name.Value);
        }
        catch (Exception e) when (e is StorageUnavailableException or IOException or OperationCanceledException)
        {
            Log.ClaimNotReleased(_logger, user, name.Value, e.Message);
        }
    }

    private async Task<bool> HasVersionsAsync(CrateName name, CancellationToken ct) =>
        await _store.ReadSmallOrNullAsync(RegistryKeys.Index(name), ct) is { } index && PrivateIndexLines.Versions(index.Content).Count > 0;

    /// <summary>crates.io's order: first whether the user may publish this crate, then whether the spelling is the crate's.</summary>
    private static RegistryError? CheckPublisher(CrateMeta meta, string user, CrateName name)
    {
        if (!IsOwner(meta, user))
        {
            return RegistryError.Forbidden($"crate `{meta.Name}` exists and you are not one of its owners; only owners may publish new versions");
        }

        if (!string.Equals(meta.Name, name.Value, StringComparison.Ordinal))
        {
            return RegistryError.BadRequest($"crate was previously named `{meta.Name}`");
        }

        return null;
    }

    private static RegistryError AlreadyUploaded(string version, string existing) =>
        RegistryError.BadRequest(version == existing
            ? $"crate version `{version}` is already uploaded"
            : $"crate version `{version}` is already uploaded (as `{existing}`; versions that differ only in build metadata are the same version)");

    /// <summary>The version already in the index that is the same as <paramref name="version"/> to cargo (build metadata ignored).</summary>
    private static string? FindSameVersion(ReadOnlyMemory<byte> index, string version)
    {
        foreach (var (_, _, parsed) in PrivateIndexLines.Lines(index))
        {
            if (parsed is not null && SemanticVersion.SameVersion(parsed.Version, version))
            {
                return parsed.Version;
            }
        }

        return null;
    }

    private sealed record Claim(CrateMeta Meta, string? ETag);

    private static byte[] Append(byte[]? current, byte[] line)
    {
        current ??= [];
        var separator = current.Length > 0 && current[^1] != (byte)'\n' ? 1 : 0;
        var result = new byte[current.Length + separator + line.Length + 1];
        current.CopyTo(result, 0);
        if (separator == 1)
        {
            result[current.Length] = (byte)'\n';
        }

        line.CopyTo(result, current.Length + separator);
        result[^1] = (byte)'\n';
        return result;
    }

    /// <summary>
    /// Brings the crate's metadata in line with its index: max_version and version count, and, when
    /// <paramref name="published"/> is now the newest version, its description and links. Each attempt reads the meta
    /// and then the index, so whichever update lands last reflects the latest index. A publish or yank has already
    /// succeeded when this runs; if it keeps losing races it gives up quietly (the next change repairs it).
    /// </summary>
    private async Task RefreshMetaAsync(CrateName name, ValidatedCrate? published, CancellationToken ct)
    {
        var metaKey = RegistryKeys.Meta(name);
        var outcome = await _store.UpdateAsync<bool>(metaKey, async (stored, _, token) =>
        {
            if (stored is null)
            {
                return UpdateDecision<bool>.Keep(true);
            }

            var meta = ParseMeta(metaKey, stored.Value.Content);
            var index = await _store.ReadSmallOrNullAsync(RegistryKeys.Index(CrateName.Parse(meta.Name)), token);
            var versions = index is null ? [] : PrivateIndexLines.Versions(index.Value.Content);
            var updated = CloneMeta(meta);
            updated.MaxVersion = PrivateIndexLines.MaxVersion(versions);
            updated.Versions = versions.Count;
            var newest = versions.Select(v => v.Version).Max(SemanticVersion.Precedence);
            if (published is not null && newest is not null && SemanticVersion.SameVersion(newest, published.Version))
            {
                var request = published.Request;
                updated.Description = request.Description;
                updated.Keywords = [.. published.Keywords];
                updated.Categories = [.. published.Categories];
                updated.License = request.License;
                updated.Repository = request.Repository;
                updated.Homepage = request.Homepage;
                updated.Documentation = request.Documentation;
            }

            if (SerializeMeta(updated).AsSpan().SequenceEqual(SerializeMeta(meta)))
            {
                return UpdateDecision<bool>.Keep(true);
            }

            updated.Updated = _time.GetUtcNow();
            return UpdateDecision<bool>.Replace(SerializeMeta(updated), true);
        }, ct, MaxUpdateAttempts);

        if (!outcome.Completed)
        {
            Log.TooManyConflicts(_logger, metaKey, outcome.Conflicts);
        }
    }
}
