using Microsoft.Extensions.Logging;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

/// <summary>
/// The writer's half of the private registry: every change to a private crate's claim, index file and metadata. On a
/// server it runs inside the crate's grain (one writer per crate for the cluster, one turn at a time); the CLI's offline
/// commands run it directly (<see cref="LocalPrivateCrateWriters"/>). Either way every write is create-only or
/// ETag-conditional on exactly what was read (<see cref="ConditionalUpdate"/>), and a write that loses re-reads and
/// decides again, so another region, the offline CLI or a brief duplicate activation is detected and never overwritten
/// unseen. Holds no state: the grain's single turn is what serialises the cluster's writers.
/// </summary>
public sealed partial class PrivateCrateWriter(IObjectStore store, TimeProvider time, ILogger<PrivateCrateWriter> logger)
{
    /// <summary>Attempts of one compare-and-swap update before giving up (409).</summary>
    internal const int MaxUpdateAttempts = 40;

    /// <summary>How long releasing the claim of a failed first publish may take (it runs even after the caller is gone).</summary>
    private static readonly TimeSpan ReleaseDeadline = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Commits a version whose crate file is stored: re-checks the publisher against the stored metadata (or claims a
    /// new name create-only: a racing first publish by someone else gets 403), appends the line with an
    /// ETag-conditional write that re-checks for the version on every attempt, then refreshes the metadata.
    /// <paramref name="retried"/>: the caller made this call before and does not know whether it landed (the silo
    /// died, or no answer came in time); then the same version with the same cksum already in the index is that
    /// earlier call's work, so success. A first call always finds a duplicate "already uploaded", as does a retry
    /// whose cksum differs.
    /// </summary>
    public async Task<CommitOutcome> CommitVersionAsync(VersionCommit commit, bool retried, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentException.ThrowIfNullOrEmpty(commit.User);
        if (CheckLine(commit) is { } malformed)
        {
            return malformed;
        }

        var name = commit.Name;
        var existing = await CrateMetaDocument.ReadAsync(store, name, ct);
        Claim? claim = null;
        if (existing is not null)
        {
            if (CrateMetaDocument.CheckPublisher(existing.Meta, commit.User, name) is { } denied)
            {
                return denied;
            }
        }
        else
        {
            var (claimed, lost) = await ClaimAsync(commit.User, name, ct);
            if (lost is not null)
            {
                return lost.Value;
            }

            claim = claimed;
        }

        // All or nothing: a name this commit claimed is released again unless its version lands.
        CommitOutcome result;
        try
        {
            result = await AppendLineAsync(commit, retried, claim is not null, ct);
        }
        catch
        {
            if (claim is not null)
            {
                await ReleaseClaimAsync(name, claim, commit.User);
            }

            throw;
        }

        if (!result.Succeeded && claim is not null)
        {
            await ReleaseClaimAsync(name, claim, commit.User);
        }

        return result;
    }

    /// <summary>
    /// Sets the <c>yanked</c> flag of one version: only that value in that one line changes, every other byte of the
    /// index file stays as it was. Owners or admins only (403); unknown crate or version is 404. Setting the flag it
    /// already has changes nothing and succeeds (so a retried call is harmless). The version is matched exactly, or
    /// ignoring build metadata when it has none (cargo users type <c>1.0.0</c> for <c>1.0.0+build</c>).
    /// </summary>
    public async Task<RegistryOutcome> SetYankedAsync(CrateChange change, string version, bool yanked, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(version);
        var existing = await CrateMetaDocument.ReadAsync(store, change.Name, ct);
        if (existing is null)
        {
            return RegistryError.NotFound($"crate `{change.Name}` does not exist");
        }

        var crateName = CrateName.Parse(existing.Meta.Name);
        if (!change.IsAdmin && !CrateMetaDocument.IsOwner(existing.Meta, change.User))
        {
            return RegistryError.Forbidden($"only owners of crate `{crateName}` may yank or unyank its versions");
        }

        if (!CrateVersion.IsValid(version))
        {
            return RegistryError.NotFound($"crate `{crateName}` has no version `{version}`");
        }

        var (completed, outcome) = await CompareAndSwapAsync<(RegistryError? Error, string? Version, bool Changed)>(RegistryKeys.Index(crateName), current =>
        {
            if (current is null)
            {
                return new(null, (RegistryError.NotFound($"crate `{crateName}` has no version `{version}`"), null, false));
            }

            var lines = PrivateIndexLines.Lines(current).Where(l => l.Parsed is not null).ToList();
            var match = lines.FirstOrDefault(l => l.Parsed!.Version == version);
            if (match.Parsed is null && !version.Contains('+', StringComparison.Ordinal))
            {
                match = lines.FirstOrDefault(l => SemanticVersion.SameVersion(l.Parsed!.Version, version));
            }

            if (match.Parsed is null)
            {
                return new(null, (RegistryError.NotFound($"crate `{crateName}` has no version `{version}`"), null, false));
            }

            return match.Parsed.Yanked == yanked
                ? new(null, (null, match.Parsed.Version, false))
                : new(PrivateIndexLines.WithYanked(current, match.Start, match.Length, yanked), (null, match.Parsed.Version, true));
        }, ct);

        if (!completed)
        {
            return CrateMetaDocument.TooManyConflicts(crateName);
        }

        if (outcome.Error is { } error)
        {
            return error;
        }

        if (outcome.Changed)
        {
            await RefreshMetaAsync(crateName, null, null, ct);
            Log.YankChanged(logger, change.User, crateName.Value, outcome.Version!, yanked);
        }

        return RegistryOutcome.Ok($"{(yanked ? "yanked" : "unyanked")} `{crateName}` {outcome.Version}");
    }

    /// <summary>
    /// Adds owners; the caller has checked that every login exists. Owners or admins only (403), re-checked on the
    /// stored metadata. Logins that already own the crate are left as they are (so a retried call is harmless).
    /// <see cref="RegistryOutcome.Message"/> is cargo's <c>msg</c>.
    /// </summary>
    public Task<RegistryOutcome> AddOwnersAsync(CrateChange change, IReadOnlyList<string> logins, CancellationToken ct) =>
        ChangeOwnersAsync(change, logins, "added", current =>
        {
            var added = new List<string>();
            var already = new List<string>();
            foreach (var login in logins.Distinct(StringComparer.OrdinalIgnoreCase))
            {
                (CrateMetaDocument.IsOwner(current, login) ? already : added).Add(login);
            }

            if (added.Count == 0)
            {
                return (null, RegistryOutcome.Ok($"{Listed(already)} {(already.Count == 1 ? "is already an owner" : "are already owners")} of crate `{current.Name}`"), null);
            }

            current.Owners.AddRange(added);
            var message = $"{(added.Count == 1 ? "user" : "users")} {Listed(added)} {(added.Count == 1 ? "has been added as an owner" : "have been added as owners")} of crate `{current.Name}`";
            if (already.Count > 0)
            {
                message += $" ({Listed(already)} {(already.Count == 1 ? "was" : "were")} already {(already.Count == 1 ? "an owner" : "owners")})";
            }

            return (current, RegistryOutcome.Ok(message), added);
        }, ct);

    /// <summary>
    /// Removes owners. Each login must be an owner (else 400), and at least one owner must remain (else 400). Owners
    /// or admins only (403). <paramref name="retried"/>: an earlier call may have removed some of them already, so
    /// logins that are not owners are taken as removed. <see cref="RegistryOutcome.Message"/> is cargo's <c>msg</c>.
    /// </summary>
    public Task<RegistryOutcome> RemoveOwnersAsync(CrateChange change, IReadOnlyList<string> logins, bool retried, CancellationToken ct) =>
        ChangeOwnersAsync(change, logins, "removed", current =>
        {
            var distinct = logins.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            var message = $"{(distinct.Count == 1 ? "user" : "users")} {Listed(distinct)} {(distinct.Count == 1 ? "has been removed as an owner" : "have been removed as owners")} of crate `{current.Name}`";
            var present = distinct.Where(login => CrateMetaDocument.IsOwner(current, login)).ToList();
            if (!retried && present.Count < distinct.Count)
            {
                return (null, RegistryOutcome.Failure(RegistryError.BadRequest($"could not find owner with login `{distinct.First(l => !present.Contains(l))}`")), null);
            }

            if (present.Count == 0)
            {
                return (null, RegistryOutcome.Ok(message), null); // a retry: the earlier call removed them
            }

            current.Owners.RemoveAll(owner => present.Contains(owner, StringComparer.OrdinalIgnoreCase));
            if (current.Owners.Count == 0)
            {
                return (null, RegistryOutcome.Failure(RegistryError.BadRequest(
                    $"cannot remove every owner of crate `{current.Name}`: at least one owner must remain")), null);
            }

            return (current, RegistryOutcome.Ok(message), present);
        }, ct);

    /// <summary>
    /// The frame of an owner change: the logins are checked, then <paramref name="edit"/> runs on the stored metadata
    /// (compare-and-swap, so possibly more than once) once the user is known to own the crate or be an admin. It
    /// returns the new meta (null: write nothing), the outcome, and the logins it changed (logged on success).
    /// </summary>
    private async Task<RegistryOutcome> ChangeOwnersAsync(
        CrateChange change,
        IReadOnlyList<string> logins,
        string what,
        Func<CrateMeta, (CrateMeta? Updated, RegistryOutcome Result, List<string>? Changed)> edit,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (CheckLogins(logins) is { } invalid)
        {
            return invalid;
        }

        string? crateName = null;
        List<string>? changed = null;
        var (completed, result) = await UpdateMetaAsync(change.Name, current =>
        {
            crateName = current.Name;
            if (!change.IsAdmin && !CrateMetaDocument.IsOwner(current, change.User))
            {
                changed = null;
                return (null, RegistryOutcome.Failure(NotAnOwner(current.Name)));
            }

            (var updated, var outcome, changed) = edit(current);
            return (updated, outcome);
        }, ct);
        if (!completed)
        {
            return CrateMetaDocument.TooManyConflicts(change.Name);
        }

        if (result.Succeeded && changed is not null)
        {
            Log.OwnersChanged(logger, change.User, crateName ?? change.Name.Value, what, string.Join(", ", changed));
        }

        return result;
    }

    private static RegistryError? CheckLogins(IReadOnlyList<string> logins)
    {
        ArgumentNullException.ThrowIfNull(logins);
        if (logins.Count == 0)
        {
            return RegistryError.BadRequest("no logins given");
        }

        return logins.FirstOrDefault(string.IsNullOrWhiteSpace) is { } blank ? RegistryError.BadRequest($"invalid login `{blank}`") : null;
    }

    /// <summary>Compare-and-swap on a crate's metadata: <paramref name="change"/> returns the new meta (null: write nothing) and the outcome.</summary>
    private async Task<(bool Completed, RegistryOutcome Result)> UpdateMetaAsync(
        CrateName name, Func<CrateMeta, (CrateMeta? Updated, RegistryOutcome Result)> change, CancellationToken ct)
    {
        var key = RegistryKeys.Meta(name);
        return await CompareAndSwapAsync<RegistryOutcome>(key, current =>
        {
            if (current is null)
            {
                return new(null, RegistryOutcome.Failure(RegistryError.NotFound($"crate `{name}` does not exist")));
            }

            var (updated, result) = change(CrateMetaDocument.Parse(key, current));
            if (updated is null)
            {
                return new(null, result);
            }

            updated.Updated = time.GetUtcNow();
            return new(CrateMetaDocument.Serialize(updated), result);
        }, ct);
    }

    private static RegistryError NotAnOwner(string crate) =>
        RegistryError.Forbidden($"only owners of crate `{crate}` may change its owners");

    private static string Listed(IEnumerable<string> logins) => string.Join(", ", logins.Select(l => $"`{l}`"));

    /// <summary>The line must be one valid index line of exactly the version being committed.</summary>
    private static RegistryError? CheckLine(VersionCommit commit)
    {
        var lines = PrivateIndexLines.Lines(commit.IndexLine).ToList();
        return lines is [{ Parsed: { } parsed }]
            && parsed.Name == commit.Name.Value && parsed.Version == commit.Version && parsed.Checksum == commit.Checksum && !parsed.Yanked
            && Array.IndexOf(commit.IndexLine, (byte)'\n') < 0
                ? null
                : RegistryError.BadRequest($"the index line of `{commit.Name}` {commit.Version} does not describe that version");
    }

    /// <summary>
    /// Claims a new name create-only. Null claim and no error: someone created the crate meanwhile and this user may
    /// publish to it (the same rules as for any existing crate).
    /// </summary>
    private async Task<(Claim? Claim, RegistryError? Error)> ClaimAsync(string user, CrateName name, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var meta = new CrateMeta { Name = name.Value, Owners = [user], Created = now, Updated = now };
        var put = await store.PutAsync(RegistryKeys.Meta(name), CrateMetaDocument.Serialize(meta), WriteCondition.IfNotExists, ct);
        if (put.Succeeded)
        {
            return (new Claim(meta, put.ETag), null);
        }

        var existing = await CrateMetaDocument.ReadAsync(store, name, ct);
        if (existing is null)
        {
            return (null, CrateMetaDocument.TooManyConflicts(name));
        }

        return (null, CrateMetaDocument.CheckPublisher(existing.Meta, user, name));
    }

    private async Task<CommitOutcome> AppendLineAsync(VersionCommit commit, bool retried, bool created, CancellationToken ct)
    {
        var name = commit.Name;
        var (completed, duplicate) = await CompareAndSwapAsync<IndexLine?>(RegistryKeys.Index(name), current =>
        {
            if (current is not null && CrateMetaDocument.FindSameVersion(current, commit.Version) is { } taken)
            {
                return new UpdateDecision<IndexLine?>(null, taken);
            }

            return new UpdateDecision<IndexLine?>(Append(current, commit.IndexLine), null);
        }, ct);
        if (!completed)
        {
            return CrateMetaDocument.TooManyConflicts(name);
        }

        if (duplicate is not null)
        {
            if (!retried || duplicate.Version != commit.Version || duplicate.Checksum != commit.Checksum)
            {
                return CrateMetaDocument.AlreadyUploaded(commit.Version, duplicate.Version);
            }

            // This call's earlier attempt landed before its answer was lost: the same bytes are the version.
            Log.RetryFoundCommitted(logger, commit.User, name.Value, commit.Version, commit.Checksum);
        }
        else
        {
            Log.Published(logger, commit.User, name.Value, commit.Version, commit.Checksum, created);
        }

        await RefreshMetaAsync(name, commit.Version, commit.Details, ct);
        return CommitOutcome.Committed(created && duplicate is null);
    }

    /// <summary>
    /// Undoes a claim whose first version did not land: deletes the meta this commit wrote (only if unchanged) while
    /// the crate has no version. A version that landed meanwhile (another writer of the same user, e.g. in another
    /// region) is seen by the check after the delete, which puts the claim back. Runs even when the caller was
    /// cancelled, under its own deadline; a failure here is logged and left to <c>verify</c>, which reports claims
    /// without versions.
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

            if (await store.DeleteAsync(metaKey, claim.ETag, ct) != DeleteResult.Deleted)
            {
                return;
            }

            if (await HasVersionsAsync(name, ct))
            {
                await store.PutAsync(metaKey, CrateMetaDocument.Serialize(claim.Meta), WriteCondition.IfNotExists, ct);
                await RefreshMetaAsync(name, null, null, ct);
                return;
            }

            Log.ClaimReleased(logger, user, name.Value);
        }
        catch (Exception e) when (e is StorageUnavailableException or IOException or OperationCanceledException)
        {
            Log.ClaimNotReleased(logger, user, name.Value, e.Message);
        }
    }

    private async Task<bool> HasVersionsAsync(CrateName name, CancellationToken ct) =>
        await store.ReadSmallOrNullAsync(RegistryKeys.Index(name), ct) is { } index && PrivateIndexLines.Versions(index.Content).Count > 0;

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
    /// <paramref name="published"/> is now the newest version, its <paramref name="details"/>. Each attempt reads the
    /// meta and then the index, so whichever update lands last reflects the latest index. The change has already
    /// landed when this runs; if it keeps losing races it gives up quietly (the next change repairs it).
    /// </summary>
    private async Task RefreshMetaAsync(CrateName name, string? published, CrateDetails? details, CancellationToken ct)
    {
        var metaKey = RegistryKeys.Meta(name);
        var outcome = await store.UpdateAsync<bool>(metaKey, async (stored, _, token) =>
        {
            if (stored is null)
            {
                return UpdateDecision<bool>.Keep(true);
            }

            var meta = CrateMetaDocument.Parse(metaKey, stored.Value.Content);
            var index = await store.ReadSmallOrNullAsync(RegistryKeys.Index(CrateName.Parse(meta.Name)), token);
            var versions = index is null ? [] : PrivateIndexLines.Versions(index.Value.Content);
            var updated = CrateMetaDocument.Clone(meta);
            updated.MaxVersion = PrivateIndexLines.MaxVersion(versions);
            updated.Versions = versions.Count;
            var newest = versions.Select(v => v.Version).Max(SemanticVersion.Precedence);
            if (published is not null && details is not null && newest is not null && SemanticVersion.SameVersion(newest, published))
            {
                updated.Description = details.Description;
                updated.Keywords = [.. details.Keywords];
                updated.Categories = [.. details.Categories];
                updated.License = details.License;
                updated.Repository = details.Repository;
                updated.Homepage = details.Homepage;
                updated.Documentation = details.Documentation;
            }

            if (CrateMetaDocument.Serialize(updated).AsSpan().SequenceEqual(CrateMetaDocument.Serialize(meta)))
            {
                return UpdateDecision<bool>.Keep(true);
            }

            updated.Updated = time.GetUtcNow();
            return UpdateDecision<bool>.Replace(CrateMetaDocument.Serialize(updated), true);
        }, ct, MaxUpdateAttempts);

        if (!outcome.Completed)
        {
            Log.TooManyConflicts(logger, metaKey, outcome.Conflicts);
        }
    }

    /// <summary>
    /// Compare-and-swap on <paramref name="key"/> through <see cref="ConditionalUpdate"/>: <paramref name="decide"/>
    /// computes the new content from the current one (null when absent); a decision without content writes nothing.
    /// Completed is false when other writers won <see cref="MaxUpdateAttempts"/> times in a row.
    /// </summary>
    private async Task<(bool Completed, T Result)> CompareAndSwapAsync<T>(string key, Func<byte[]?, UpdateDecision<T>> decide, CancellationToken ct)
    {
        var outcome = await store.UpdateAsync(key, current => decide(current?.Content), ct, MaxUpdateAttempts, attempt => Log.WriteConflict(logger, key, attempt));
        if (!outcome.Completed)
        {
            Log.TooManyConflicts(logger, key, outcome.Conflicts);
        }

        return (outcome.Completed, outcome.Result);
    }
}
