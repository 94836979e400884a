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
    /// (reads only) the crate's owners and spelling and whether the version exists; store the crate file create-only
    /// under a content-addressed key; then the crate's writer (<see cref="IPrivateCrateWriters"/>: its grain, one per
    /// crate for the cluster) commits: it checks owners and spelling again, claims a new name create-only (a racing
    /// first publish by someone else gets 403), appends the line to the index with an ETag-conditional write that
    /// re-checks for the version on every attempt (so exactly one of several racing publishes of one version wins, and
    /// publishes of different versions all land), and refreshes the crate's metadata (max_version, description).
    /// </remarks>
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

        // Read-only checks first, so nothing is stored for a publish that cannot land; the crate's writer checks the
        // owners and the version again when it commits (it is the one that decides).
        var existing = await ReadMetaAsync(name, ct);
        if (existing is not null && CrateMetaDocument.CheckPublisher(existing.Meta, user, name) is { } denied)
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

        if (existing is not null && await _store.ReadSmallOrNullAsync(RegistryKeys.Index(name), ct) is { } currentIndex
            && CrateMetaDocument.FindSameVersion(currentIndex.Content, crate.Version) is { } already)
        {
            return CrateMetaDocument.AlreadyUploaded(crate.Version, already.Version);
        }

        // The file first, so no node ever sees an index line whose file is missing, and so nothing slow stands between
        // claiming a new name and committing its first version. Content-addressed and create-only: an existing object
        // under this key has these very bytes (a publish that loses later leaves only an unreferenced file).
        upload.CrateFile.Position = 0;
        await _store.PutAsync(RegistryKeys.CrateFile(name, crate.Version, upload.Sha256), upload.CrateFile, WriteCondition.IfNotExists, ct);

        // The crate's writer claims a new name, appends the line and refreshes the metadata: no crate bytes, only the line.
        var request = crate.Request;
        var commit = new VersionCommit(
            user,
            name,
            crate.Version,
            upload.Sha256,
            PrivateIndexLines.Build(crate, upload.Sha256, _time.GetUtcNow()),
            new CrateDetails(request.Description, crate.Keywords, crate.Categories, request.License, request.Repository, request.Homepage, request.Documentation));
        var committed = await _writers.CommitVersionAsync(commit, ct);
        if (committed.Error is { } refused)
        {
            return refused;
        }

        RememberPrivateName(name.Canonical, true); // the mirror on this node hides the public crate of this name at once
        return PublishResult.Success(new PublishedVersion(name.Value, crate.Version, upload.Sha256, committed.CreatedCrate, crate.Warnings));
    }
}
