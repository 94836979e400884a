using System.Text;

namespace OrleansCrates.Testing;

/// <summary>
/// An immutable set of synthetic crate versions that together form a valid sparse registry, plus a consumer
/// binary that depends on all of it.
/// </summary>
public sealed class CrateGraph
{
    private static readonly Lazy<CrateGraph> Default = new(DefaultCrateGraph.Build);

    private readonly Dictionary<string, List<SyntheticCrate>> _byIndexPath;
    private readonly Lazy<IReadOnlyList<ConsumerDependency>> _consumer;

    private CrateGraph(IReadOnlyList<SyntheticCrate> crates)
    {
        Crates = crates;
        _byIndexPath = new Dictionary<string, List<SyntheticCrate>>(StringComparer.Ordinal);
        foreach (var crate in crates)
        {
            if (!_byIndexPath.TryGetValue(crate.IndexPath, out var list))
            {
                _byIndexPath[crate.IndexPath] = list = [];
            }

            if (list.Count > 0 && !string.Equals(list[0].Name, crate.Name, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"'{crate.Name}' and '{list[0].Name}' differ only in case; a registry keeps the first spelling.");
            }

            if (list.Any(c => c.SemVer.WithoutBuild == crate.SemVer.WithoutBuild))
            {
                throw new ArgumentException($"{crate} duplicates a version already in the graph (build metadata is ignored).");
            }

            list.Add(crate);
        }

        _consumer = new Lazy<IReadOnlyList<ConsumerDependency>>(ComputeConsumerDependencies);
    }

    /// <summary>The deterministic default graph (built once per process; a few dozen crate versions).</summary>
    public static CrateGraph CreateDefault() => Default.Value;

    public static CrateGraph Create(IEnumerable<SyntheticCrate> crates)
    {
        ArgumentNullException.ThrowIfNull(crates);
        return new CrateGraph(crates.ToList().AsReadOnly());
    }

    /// <summary>
    /// Builds one crate version. <paramref name="paddingBytes"/> adds an incompressible, seeded file so that the
    /// <c>.crate</c> reaches roughly that size. The result is deterministic for the same arguments.
    /// </summary>
    public static SyntheticCrate BuildCrate(
        string name,
        string version,
        IEnumerable<CrateDependency>? dependencies = null,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? features = null,
        bool yanked = false,
        int paddingBytes = 0) =>
        SyntheticCrate.Build(name, version, dependencies, features, yanked, paddingBytes);

    /// <summary>All versions, in publish order.</summary>
    public IReadOnlyList<SyntheticCrate> Crates { get; }

    /// <summary>The distinct crate names as published.</summary>
    public IEnumerable<string> Names => _byIndexPath.Values.Select(l => l[0].Name);

    /// <summary>The version exactly (name case-insensitive; version as published, build metadata included).</summary>
    public SyntheticCrate Get(string name, string version) =>
        TryGet(name, version) ?? throw new KeyNotFoundException($"{name}@{version} is not in the graph.");

    public SyntheticCrate? TryGet(string name, string version) =>
        VersionsOf(name).FirstOrDefault(c => string.Equals(c.Version, version, StringComparison.Ordinal));

    /// <summary>All versions of a crate in publish order (name case-insensitive); empty when unknown.</summary>
    public IReadOnlyList<SyntheticCrate> VersionsOf(string name) =>
        _byIndexPath.TryGetValue(RegistryPaths.IndexPath(name), out var list) ? list : [];

    /// <summary>The newest non-yanked, non-prerelease version of a crate, or null.</summary>
    public SyntheticCrate? NewestVersion(string name) =>
        VersionsOf(name).Where(c => !c.Yanked && !c.SemVer.IsPrerelease).MaxBy(c => c.SemVer);

    /// <summary>The index file of a crate (case-insensitive name): its lines, each followed by '\n'; null when unknown.</summary>
    public byte[]? IndexFileFor(string name)
    {
        var versions = VersionsOf(name);
        if (versions.Count == 0)
        {
            return null;
        }

        using var ms = new MemoryStream();
        foreach (var crate in versions)
        {
            ms.Write(crate.IndexLine);
            ms.WriteByte((byte)'\n');
        }

        return ms.ToArray();
    }

    /// <summary>
    /// A new graph with one more version (a publish), or with the same name+version replaced in place (e.g. a yank
    /// flip: <c>graph.With(graph.Get("abc", "1.2.0").WithYanked(false))</c>).
    /// </summary>
    public CrateGraph With(SyntheticCrate crate)
    {
        ArgumentNullException.ThrowIfNull(crate);
        var list = Crates.ToList();
        var index = list.FindIndex(c =>
            string.Equals(c.Name, crate.Name, StringComparison.OrdinalIgnoreCase)
            && c.SemVer.WithoutBuild == crate.SemVer.WithoutBuild);
        if (index >= 0)
        {
            list[index] = crate;
        }
        else
        {
            list.Add(crate);
        }

        return new CrateGraph(list.AsReadOnly());
    }

    /// <summary>Shorthand for <c>With(Get(name, version).WithYanked(yanked))</c>.</summary>
    public CrateGraph WithYanked(string name, string version, bool yanked) => With(Get(name, version).WithYanked(yanked));

    /// <summary>
    /// What cargo is expected to lock for the consumer: the newest non-yanked, non-prerelease version of every
    /// semver-compatibility group of every crate (1.x, 0.2.x, ...). Valid as long as no crate pins an older
    /// version of another with '=' or '~' (the default graph does not).
    /// </summary>
    public IReadOnlyList<SyntheticCrate> ExpectedLockedCrates => _consumer.Value.Select(d => d.Crate).ToList();

    /// <summary>
    /// The lines of a <c>[dependencies]</c> table (without the header) for a binary crate that pulls in every
    /// non-yanked compatibility group of every crate, enabling every non-default feature.
    /// </summary>
    public string ConsumerDependenciesToml
    {
        get
        {
            var sb = new StringBuilder();
            foreach (var d in _consumer.Value)
            {
                var dep = new CrateDependency(
                    d.Alias ?? d.Crate.Name,
                    d.Crate.SemVer.CaretRequirement,
                    Package: d.Alias is null ? null : d.Crate.Name,
                    Features: d.Crate.Features.Keys.Where(k => k != "default").ToList());
                sb.Append($"{RustSource.Key(dep.Name)} = {RustSource.InlineDependency(dep)}\n");
            }

            return sb.ToString();
        }
    }

    /// <summary>A main.rs that calls each direct dependency and prints "<c>{name} {version}</c>" per dependency.</summary>
    public string ConsumerMainRs
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append("// Consumer generated by OrleansCrates.Testing.\n");
            sb.Append("fn main() {\n");
            sb.Append("    let mut total: u32 = 0;\n");
            foreach (var d in _consumer.Value)
            {
                var ident = RustSource.Ident(d.Alias ?? d.Crate.Name);
                sb.Append($"    total = total.wrapping_add({ident}::{d.Crate.FunctionName}());\n");
                sb.Append($"    println!(\"{{}} {{}}\", {ident}::NAME, {ident}::VERSION);\n");
            }

            sb.Append("    println!(\"total {}\", total);\n");
            sb.Append("}\n");
            return sb.ToString();
        }
    }

    private List<ConsumerDependency> ComputeConsumerDependencies()
    {
        var result = new List<ConsumerDependency>();
        foreach (var versions in _byIndexPath.Values)
        {
            var groups = versions
                .Where(c => !c.Yanked && !c.SemVer.IsPrerelease)
                .GroupBy(c => c.SemVer.CompatGroup)
                .Select(g => g.MaxBy(c => c.SemVer)!)
                .OrderByDescending(c => c.SemVer)
                .ToList();
            for (var i = 0; i < groups.Count; i++)
            {
                // The newest group keeps the plain name; older groups are renamed dependencies.
                var alias = i == 0 ? null : $"{RustSource.Ident(groups[i].Name)}_v{groups[i].SemVer.CompatGroup.Replace('.', '_')}";
                result.Add(new ConsumerDependency(groups[i], alias));
            }
        }

        return result
            .OrderBy(d => d.Crate.Name, StringComparer.Ordinal)
            .ThenByDescending(d => d.Crate.SemVer)
            .ToList();
    }

    private sealed record ConsumerDependency(SyntheticCrate Crate, string? Alias);
}
