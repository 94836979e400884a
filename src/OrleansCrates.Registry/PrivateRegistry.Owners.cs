using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    /// <summary>
    /// Sets the <c>yanked</c> flag of one version: only that value in that one line changes, every other byte of the
    /// index file stays as it was. Owners or admins only (403); unknown crate or version is 404. Setting the flag it
    /// already has changes nothing and succeeds. <paramref name="version"/> is matched exactly, or ignoring build
    /// metadata when it has none (cargo users type <c>1.0.0</c> for <c>1.0.0+build</c>).
    /// </summary>
    public async Task<RegistryOutcome> YankAsync(string user, bool isAdmin, CrateName name, string version, bool yanked, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(version);
        var existing = await ReadMetaAsync(name, ct);
        if (existing is null)
        {
            return RegistryError.NotFound($"crate `{name}` does not exist");
        }

        var crateName = CrateName.Parse(existing.Meta.Name);
        if (!isAdmin && !IsOwner(existing.Meta, user))
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
            return TooManyConflicts(crateName);
        }

        if (outcome.Error is { } error)
        {
            return error;
        }

        if (outcome.Changed)
        {
            await RefreshMetaAsync(crateName, null, ct);
            Log.YankChanged(_logger, user, crateName.Value, outcome.Version!, yanked);
        }

        return RegistryOutcome.Ok($"{(yanked ? "yanked" : "unyanked")} `{crateName}` {outcome.Version}");
    }

    /// <summary>The owners' logins, in the order they became owners; 404 for an unknown crate. Any spelling (case, '-'/'_') finds the crate.</summary>
    public async Task<OwnerList> ListOwnersAsync(CrateName name, CancellationToken ct)
    {
        var existing = await ReadMetaAsync(name, ct);
        return existing is null
            ? OwnerList.Failure(RegistryError.NotFound($"crate `{name}` does not exist"))
            : OwnerList.Of(existing.Meta.Owners.ToArray());
    }

    /// <summary>
    /// Adds owners (every login must exist in <see cref="IUserDirectory"/>, else 400). Owners or admins only (403).
    /// Logins that already own the crate are left as they are. <see cref="RegistryOutcome.Message"/> is cargo's <c>msg</c>.
    /// </summary>
    public async Task<RegistryOutcome> AddOwnersAsync(string user, bool isAdmin, CrateName name, IReadOnlyList<string> logins, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(logins);
        var (meta, problem) = await AuthorizeOwnerChangeAsync(user, isAdmin, name, logins, ct);
        if (problem is not null)
        {
            return problem.Value;
        }

        foreach (var login in logins)
        {
            if (!await _users.ExistsAsync(login, ct))
            {
                return RegistryError.BadRequest($"could not find user with login `{login}`");
            }
        }

        var crateName = meta!.Name;
        List<string>? changed = null;
        var (completed, result) = await UpdateMetaAsync(name, current =>
        {
            changed = null;
            if (!isAdmin && !IsOwner(current, user))
            {
                return (null, RegistryOutcome.Failure(NotAnOwner(crateName)));
            }

            var added = new List<string>();
            var already = new List<string>();
            foreach (var login in logins.Distinct(StringComparer.OrdinalIgnoreCase))
            {
                (IsOwner(current, login) ? already : added).Add(login);
            }

            if (added.Count == 0)
            {
                return (null, RegistryOutcome.Ok($"{Listed(already)} {(already.Count == 1 ? "is already an owner" : "are already owners")} of crate `{crateName}`"));
            }

            current.Owners.AddRange(added);
            var message = $"{(added.Count == 1 ? "user" : "users")} {Listed(added)} {(added.Count == 1 ? "has been added as an owner" : "have been added as owners")} of crate `{crateName}`";
            if (already.Count > 0)
            {
                message += $" ({Listed(already)} {(already.Count == 1 ? "was" : "were")} already {(already.Count == 1 ? "an owner" : "owners")})";
            }

            changed = added;
            return (current, RegistryOutcome.Ok(message));
        }, ct);
        return Finish(completed, result, user, crateName, "added", changed);
    }

    /// <summary>
    /// Removes owners. Each login must be an owner (else 400), and at least one owner must remain (else 400). Owners
    /// or admins only (403). <see cref="RegistryOutcome.Message"/> is cargo's <c>msg</c>.
    /// </summary>
    public async Task<RegistryOutcome> RemoveOwnersAsync(string user, bool isAdmin, CrateName name, IReadOnlyList<string> logins, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(logins);
        var (meta, problem) = await AuthorizeOwnerChangeAsync(user, isAdmin, name, logins, ct);
        if (problem is not null)
        {
            return problem.Value;
        }

        var crateName = meta!.Name;
        List<string>? changed = null;
        var (completed, result) = await UpdateMetaAsync(name, current =>
        {
            changed = null;
            if (!isAdmin && !IsOwner(current, user))
            {
                return (null, RegistryOutcome.Failure(NotAnOwner(crateName)));
            }

            foreach (var login in logins)
            {
                if (!IsOwner(current, login))
                {
                    return (null, RegistryOutcome.Failure(RegistryError.BadRequest($"could not find owner with login `{login}`")));
                }
            }

            current.Owners.RemoveAll(owner => logins.Contains(owner, StringComparer.OrdinalIgnoreCase));
            if (current.Owners.Count == 0)
            {
                return (null, RegistryOutcome.Failure(RegistryError.BadRequest(
                    $"cannot remove every owner of crate `{crateName}`: at least one owner must remain")));
            }

            var distinct = logins.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            changed = distinct;
            return (current, RegistryOutcome.Ok(
                $"{(distinct.Count == 1 ? "user" : "users")} {Listed(distinct)} {(distinct.Count == 1 ? "has been removed as an owner" : "have been removed as owners")} of crate `{crateName}`"));
        }, ct);
        return Finish(completed, result, user, crateName, "removed", changed);
    }

    private RegistryOutcome Finish(bool completed, RegistryOutcome result, string user, string crateName, string change, List<string>? changed)
    {
        if (!completed)
        {
            return TooManyConflicts(CrateName.Parse(crateName));
        }

        if (result.Succeeded && changed is not null)
        {
            Log.OwnersChanged(_logger, user, crateName, change, string.Join(", ", changed));
        }

        return result;
    }

    private async Task<(CrateMeta? Meta, RegistryError? Problem)> AuthorizeOwnerChangeAsync(
        string user, bool isAdmin, CrateName name, IReadOnlyList<string> logins, CancellationToken ct)
    {
        var existing = await ReadMetaAsync(name, ct);
        if (existing is null)
        {
            return (null, RegistryError.NotFound($"crate `{name}` does not exist"));
        }

        if (!isAdmin && !IsOwner(existing.Meta, user))
        {
            return (null, NotAnOwner(existing.Meta.Name));
        }

        if (logins.Count == 0)
        {
            return (null, RegistryError.BadRequest("no logins given"));
        }

        if (logins.FirstOrDefault(string.IsNullOrWhiteSpace) is { } blank)
        {
            return (null, RegistryError.BadRequest($"invalid login `{blank}`"));
        }

        return (existing.Meta, null);
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

            var (updated, result) = change(ParseMeta(key, current));
            if (updated is null)
            {
                return new(null, result);
            }

            updated.Updated = _time.GetUtcNow();
            return new(SerializeMeta(updated), result);
        }, ct);
    }

    private static RegistryError NotAnOwner(string crate) =>
        RegistryError.Forbidden($"only owners of crate `{crate}` may change its owners");

    private static string Listed(IEnumerable<string> logins) => string.Join(", ", logins.Select(l => $"`{l}`"));
}
