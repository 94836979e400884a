namespace OrleansCrates.Registry;

/// <summary>The registry's view of user accounts: only whether a login exists (to add it as an owner).</summary>
public interface IUserDirectory
{
    Task<bool> ExistsAsync(string login, CancellationToken ct);
}
