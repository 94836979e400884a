using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    /// <summary>
    /// Sets the <c>yanked</c> flag of one version, through the crate's writer (see
    /// <see cref="PrivateCrateWriter.SetYankedAsync"/>): only that value in that one line changes. Owners or admins only
    /// (403); unknown crate or version is 404; setting the flag it already has changes nothing and succeeds.
    /// </summary>
    public Task<RegistryOutcome> YankAsync(string user, bool isAdmin, CrateName name, string version, bool yanked, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(version);
        return _writers.SetYankedAsync(new CrateChange(user, isAdmin, name), version, yanked, ct);
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
        if (await AuthorizeOwnerChangeAsync(user, isAdmin, name, logins, ct) is { } problem)
        {
            return problem;
        }

        foreach (var login in logins)
        {
            if (!await _users.ExistsAsync(login, ct))
            {
                return RegistryError.BadRequest($"could not find user with login `{login}`");
            }
        }

        return await _writers.ChangeOwnersAsync(new CrateChange(user, isAdmin, name), logins, add: true, ct);
    }

    /// <summary>
    /// Removes owners. Each login must be an owner (else 400), and at least one owner must remain (else 400). Owners
    /// or admins only (403). <see cref="RegistryOutcome.Message"/> is cargo's <c>msg</c>.
    /// </summary>
    public async Task<RegistryOutcome> RemoveOwnersAsync(string user, bool isAdmin, CrateName name, IReadOnlyList<string> logins, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(logins);
        if (await AuthorizeOwnerChangeAsync(user, isAdmin, name, logins, ct) is { } problem)
        {
            return problem;
        }

        return await _writers.ChangeOwnersAsync(new CrateChange(user, isAdmin, name), logins, add: false, ct);
    }

    /// <summary>
    /// The checks that need only reads, in crates.io's order (unknown crate, not an owner, no or blank logins), before
    /// the users are looked up; the crate's writer checks ownership again on the metadata it changes.
    /// </summary>
    private async Task<RegistryError?> AuthorizeOwnerChangeAsync(
        string user, bool isAdmin, CrateName name, IReadOnlyList<string> logins, CancellationToken ct)
    {
        var existing = await ReadMetaAsync(name, ct);
        if (existing is null)
        {
            return RegistryError.NotFound($"crate `{name}` does not exist");
        }

        if (!isAdmin && !CrateMetaDocument.IsOwner(existing.Meta, user))
        {
            return RegistryError.Forbidden($"only owners of crate `{existing.Meta.Name}` may change its owners");
        }

        if (logins.Count == 0)
        {
            return RegistryError.BadRequest("no logins given");
        }

        if (logins.FirstOrDefault(string.IsNullOrWhiteSpace) is { } blank)
        {
            return RegistryError.BadRequest($"invalid login `{blank}`");
        }

        return null;
    }
}
