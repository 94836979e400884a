using System.Text.Json;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

/// <summary>A crate's metadata as read from storage, with the ETag a replacing or deleting write must match.</summary>
internal sealed record StoredMeta(CrateMeta Meta, string ETag);

/// <summary>The crate metadata document (<c>private/meta/{canonical}.json</c>): parsing, writing, and the rules read from it.</summary>
internal static class CrateMetaDocument
{
    public static CrateMeta Parse(string key, byte[] content)
    {
        try
        {
            var meta = JsonSerializer.Deserialize(content, RegistryJsonContext.Default.CrateMeta);
            if (meta is null || !CrateName.IsValid(meta.Name) || meta.Owners is null)
            {
                throw new InvalidDataException($"crate metadata {key} has no valid name or owners");
            }

            return meta;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"crate metadata {key} is not valid JSON: {e.Message}", e);
        }
    }

    public static (CrateMeta? Meta, string? Error) TryParse(string key, byte[] content)
    {
        try
        {
            return (Parse(key, content), null);
        }
        catch (InvalidDataException e)
        {
            return (null, e.Message);
        }
    }

    public static byte[] Serialize(CrateMeta meta) => JsonSerializer.SerializeToUtf8Bytes(meta, RegistryJsonContext.Default.CrateMeta);

    public static CrateMeta Clone(CrateMeta meta) => JsonSerializer.Deserialize(Serialize(meta), RegistryJsonContext.Default.CrateMeta)!;

    /// <summary>Reads and parses a crate's metadata straight from storage; null when the crate does not exist.</summary>
    public static async Task<StoredMeta?> ReadAsync(IObjectStore store, CrateName name, CancellationToken ct)
    {
        var key = RegistryKeys.Meta(name);
        var stored = await store.ReadSmallOrNullAsync(key, ct);
        return stored is null ? null : new StoredMeta(Parse(key, stored.Value.Content), stored.Value.ETag);
    }

    public static bool IsOwner(CrateMeta meta, string login) =>
        meta.Owners.Contains(login, StringComparer.OrdinalIgnoreCase);

    /// <summary>crates.io's order: first whether the user may publish this crate, then whether the spelling is the crate's.</summary>
    public static RegistryError? CheckPublisher(CrateMeta meta, string user, CrateName name)
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

    public static RegistryError AlreadyUploaded(string version, string existing) =>
        RegistryError.BadRequest(version == existing
            ? $"crate version `{version}` is already uploaded"
            : $"crate version `{version}` is already uploaded (as `{existing}`; versions that differ only in build metadata are the same version)");

    /// <summary>The line already in the index that is the same version as <paramref name="version"/> to cargo (build metadata ignored).</summary>
    public static IndexLine? FindSameVersion(ReadOnlyMemory<byte> index, string version)
    {
        foreach (var (_, _, parsed) in PrivateIndexLines.Lines(index))
        {
            if (parsed is not null && SemanticVersion.SameVersion(parsed.Version, version))
            {
                return parsed;
            }
        }

        return null;
    }

    public static RegistryError TooManyConflicts(CrateName name) =>
        RegistryError.Conflict($"crate `{name}` is being changed by too many requests at once; try again");
}
