using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OrleansCrates.Testing;

/// <summary>
/// One published crate version: a real <c>.crate</c> file whose Cargo.toml and src/lib.rs agree with its sparse
/// index line. Build one with <see cref="CrateGraph.BuildCrate"/>.
/// </summary>
public sealed class SyntheticCrate
{
    private static readonly JsonWriterOptions JsonOptions = new()
    {
        // Keep '+' (build metadata) and friends raw, like crates.io's serde_json does.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    internal SyntheticCrate(
        string name,
        string version,
        IReadOnlyList<CrateDependency> dependencies,
        IReadOnlyDictionary<string, IReadOnlyList<string>> features,
        bool yanked,
        byte[] crateBytes)
    {
        Name = name;
        Version = version;
        SemVer = SemVersion.Parse(version);
        Dependencies = dependencies;
        Features = features;
        Yanked = yanked;
        CrateBytes = crateBytes;
        Sha256 = Convert.ToHexStringLower(SHA256.HashData(crateBytes));
        IndexLine = BuildIndexLine();
    }

    /// <summary>The name as published (case kept, e.g. "MixedCase").</summary>
    public string Name { get; }

    /// <summary>The version as published, possibly with build metadata ("1.2.0+build.7").</summary>
    public string Version { get; }

    public IReadOnlyList<CrateDependency> Dependencies { get; }

    public IReadOnlyDictionary<string, IReadOnlyList<string>> Features { get; }

    public bool Yanked { get; }

    /// <summary>The <c>.crate</c> file: gzip'd tar with entries under <c>{Name}-{Version}/</c>.</summary>
    public byte[] CrateBytes { get; }

    /// <summary>Lowercase hex sha256 of <see cref="CrateBytes"/> (the index <c>cksum</c>).</summary>
    public string Sha256 { get; }

    /// <summary>The exact JSON line a sparse index serves for this version, without the trailing newline.</summary>
    public byte[] IndexLine { get; }

    /// <summary>The index file path relative to the index root (lowercase), e.g. <c>mi/xe/mixedcase</c>.</summary>
    public string IndexPath => RegistryPaths.IndexPath(Name);

    /// <summary>The Rust identifier of the library (<c>-</c> replaced by <c>_</c>).</summary>
    public string LibName => RustSource.Ident(Name);

    /// <summary>The public function every synthetic crate exports (<c>pub fn {lib}_fn() -> u32</c>, lowercased).</summary>
    public string FunctionName => RustSource.FunctionName(Name);

    internal SemVersion SemVer { get; }

    /// <summary>The same crate (same bytes and checksum) with the <c>yanked</c> flag set as given.</summary>
    public SyntheticCrate WithYanked(bool yanked) =>
        yanked == Yanked ? this : new SyntheticCrate(Name, Version, Dependencies, Features, yanked, CrateBytes);

    public override string ToString() => $"{Name}@{Version}{(Yanked ? " (yanked)" : string.Empty)}";

    private byte[] BuildIndexLine()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("name", Name);
            w.WriteString("vers", Version);
            w.WriteStartArray("deps");
            foreach (var dep in Dependencies)
            {
                w.WriteStartObject();
                w.WriteString("name", dep.Name);
                w.WriteString("req", dep.Req);
                w.WriteStartArray("features");
                foreach (var f in dep.Features ?? [])
                {
                    w.WriteStringValue(f);
                }

                w.WriteEndArray();
                w.WriteBoolean("optional", dep.Optional);
                w.WriteBoolean("default_features", dep.DefaultFeatures);
                if (dep.Target is null)
                {
                    w.WriteNull("target");
                }
                else
                {
                    w.WriteString("target", dep.Target);
                }

                w.WriteString("kind", dep.Kind);
                if (dep.Package is not null)
                {
                    w.WriteString("package", dep.Package);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("cksum", Sha256);
            w.WriteStartObject("features");
            foreach (var (feature, enables) in Features.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                w.WriteStartArray(feature);
                foreach (var e in enables)
                {
                    w.WriteStringValue(e);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteBoolean("yanked", Yanked);
            w.WriteNull("links");
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    internal static SyntheticCrate Build(
        string name,
        string version,
        IEnumerable<CrateDependency>? dependencies,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? features,
        bool yanked,
        int paddingBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(version);
        ArgumentOutOfRangeException.ThrowIfNegative(paddingBytes);
        _ = SemVersion.Parse(version);
        var deps = (dependencies ?? []).ToList();
        foreach (var dep in deps)
        {
            if (dep.Kind is not ("normal" or "build" or "dev"))
            {
                throw new ArgumentException($"Dependency '{dep.Name}' has unknown kind '{dep.Kind}'.", nameof(dependencies));
            }
        }

        var feats = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (k, v) in features ?? new Dictionary<string, IReadOnlyList<string>>())
        {
            feats[k] = v.ToArray();
        }

        var cargoToml = RustSource.CargoToml(name, version, deps, feats);
        var libRs = RustSource.LibRs(name, version, deps);
        var bytes = CrateTarball.Create(
            name,
            version,
            [("Cargo.toml", Encoding.UTF8.GetBytes(cargoToml)), ("src/lib.rs", Encoding.UTF8.GetBytes(libRs))],
            paddingBytes);
        return new SyntheticCrate(name, version, deps.AsReadOnly(), feats.AsReadOnly(), yanked, bytes);
    }
}
