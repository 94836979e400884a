using Microsoft.Extensions.Options;

namespace OrleansCrates.Registry;

/// <summary>Configuration section <c>Registry:Private</c>: the private Cargo registry.</summary>
public sealed class PrivateRegistryOptions
{
    public const string SectionName = "Registry:Private";

    /// <summary>Whether reading the private index and downloading its crates needs a token (cargo's <c>auth-required</c>).</summary>
    public bool ReadRequiresToken { get; set; }

    /// <summary>Largest accepted <c>.crate</c> file in a publish, in bytes (413 above). Default 10 MiB.</summary>
    public long MaxCrateBytes { get; set; } = 10L * 1024 * 1024;

    /// <summary>Largest accepted publish metadata (the JSON part of the body), in bytes (413 above). Default 1 MiB.</summary>
    public long MaxMetadataBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest total size a <c>.crate</c> may unpack to (a guard against gzip bombs). Default 512 MiB, as crates.io.</summary>
    public long MaxUnpackedBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Most entries (files and folders) a <c>.crate</c> may hold (400 above). Default 100 000.</summary>
    public int MaxCrateEntries { get; set; } = 100_000;

    /// <summary>
    /// Where publish bodies are spooled while they are checked: each process uses its own folder below this one and
    /// removes the folders of processes that are gone (see <see cref="PublishSpool"/>). Use a local folder the server
    /// alone writes to. Default <c>{temp}/orleanscrates/publish-spool</c>.
    /// </summary>
    public string SpoolPath { get; set; } = Path.Combine(Path.GetTempPath(), "orleanscrates", "publish-spool");

    /// <summary>What the mirror does with an upstream crate whose name is taken by a private crate.</summary>
    public ShadowPolicy ShadowPolicy { get; set; } = ShadowPolicy.Block;

    /// <summary>
    /// Names (or <c>*</c> patterns, compared canonically) that publish tokens may claim for a private crate although a
    /// crate of that name exists upstream (or upstream cannot be asked). Every other such claim needs an admin token
    /// for the name, since a private name hides the public crate on the mirror (<see cref="ShadowPolicy"/>).
    /// </summary>
    public List<string> AllowedPublicNames { get; set; } = [];

    /// <summary>
    /// How long this node remembers whether a name is a private crate (<see cref="PrivateRegistry.IsPrivateCrateAsync"/>).
    /// A crate first published on another node may be unknown here for this long. Default 5 s.
    /// </summary>
    public TimeSpan PrivateNameCacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Memory for private index files on this node, in bytes (revalidated against storage on every read).</summary>
    public long IndexCacheBytes { get; set; } = 32L * 1024 * 1024;
}

/// <summary>Whether a private crate name hides the upstream crate of the same (canonical) name.</summary>
public enum ShadowPolicy
{
    /// <summary>The mirror refuses an upstream crate whose name belongs to a private crate (no dependency confusion).</summary>
    Block,

    /// <summary>No guard: the mirror serves upstream crates whatever the private registry holds.</summary>
    Off,
}

/// <summary>Checks <see cref="PrivateRegistryOptions"/> at start-up.</summary>
public sealed class PrivateRegistryOptionsValidator : IValidateOptions<PrivateRegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, PrivateRegistryOptions options)
    {
        var errors = new List<string>();
        if (options.MaxCrateBytes is < 1 or > uint.MaxValue)
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:MaxCrateBytes must be between 1 and {uint.MaxValue} (cargo sends a 32-bit length).");
        }

        if (options.MaxMetadataBytes is < 1 or > int.MaxValue)
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:MaxMetadataBytes must be between 1 and {int.MaxValue}.");
        }

        if (options.MaxUnpackedBytes < 1)
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:MaxUnpackedBytes must be positive.");
        }

        if (options.MaxCrateEntries is < 1 or > 10_000_000)
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:MaxCrateEntries must be between 1 and 10000000.");
        }

        if (string.IsNullOrWhiteSpace(options.SpoolPath))
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:SpoolPath must not be empty.");
        }

        if (!Enum.IsDefined(options.ShadowPolicy))
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:ShadowPolicy must be Block or Off.");
        }

        if (options.PrivateNameCacheTtl < TimeSpan.Zero || options.PrivateNameCacheTtl > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:PrivateNameCacheTtl must be between 00:00:00 and 00:05:00.");
        }

        foreach (var (entry, i) in options.AllowedPublicNames.Select((e, i) => (e, i)))
        {
            if (string.IsNullOrEmpty(entry) || entry.Length > 64 || !entry.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '*'))
            {
                errors.Add($"{PrivateRegistryOptions.SectionName}:AllowedPublicNames:{i} must be a crate name or a pattern of letters, digits, '-', '_' and '*' (at most 64).");
            }
        }

        if (options.IndexCacheBytes < 0)
        {
            errors.Add($"{PrivateRegistryOptions.SectionName}:IndexCacheBytes must not be negative.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
