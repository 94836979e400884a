using YamlDotNet.RepresentationModel;

namespace OrleansCrates.Deployment.Tests;

/// <summary>One YAML document of a file under <c>infra/k8s/</c>.</summary>
internal sealed record Manifest(string File, YamlMappingNode Root)
{
    public string Kind => Root.Text("kind") ?? "";

    public string Name => Root.Text("metadata", "name") ?? "";

    public override string ToString() => $"{Repo.Relative(File)} {Kind}/{Name}";
}

/// <summary>The Kubernetes manifests, parsed with YamlDotNet, and the env files kustomize turns into ConfigMaps.</summary>
internal static class Manifests
{
    public static readonly string Base = Path.Combine(Repo.Kubernetes, "base");

    public static readonly string RegionOverlay = Path.Combine(Repo.Kubernetes, "overlays", "region");

    /// <summary>Every document of every <c>*.yaml</c> under infra/k8s (throws on a file that does not parse).</summary>
    public static IReadOnlyList<Manifest> All() =>
        Directory.EnumerateFiles(Repo.Kubernetes, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .SelectMany(file =>
            {
                var stream = new YamlStream();
                using var reader = new StringReader(File.ReadAllText(file));
                stream.Load(reader);
                return stream.Documents.Select(d => new Manifest(file, Assert.IsType<YamlMappingNode>(d.RootNode)));
            })
            .ToList();

    /// <summary>The one resource of <paramref name="kind"/> in the base.</summary>
    public static Manifest One(string kind)
    {
        var found = All().Where(m => m.Kind == kind && Path.GetDirectoryName(m.File) == Base).ToList();
        Assert.True(found.Count == 1, $"expected one {kind} in infra/k8s/base, found {found.Count}");
        return found[0];
    }

    public static Manifest Kustomization(string directory) =>
        All().Single(m => m.Kind == "Kustomization" && Path.GetDirectoryName(m.File) == directory);

    /// <summary>The silo container of the Deployment.</summary>
    public static YamlNode SiloContainer() =>
        One("Deployment").Root.Items("spec", "template", "spec", "containers").Single(c => c.Text("name") == "silo");

    /// <summary>A kustomize env file: <c>KEY=VALUE</c> lines; blank lines and <c>#</c> comments skipped.</summary>
    public static Dictionary<string, string> EnvFile(string path)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            Assert.True(equals > 0, $"{Repo.Relative(path)}: not KEY=VALUE: {line}");
            Assert.True(entries.TryAdd(line[..equals], line[(equals + 1)..]), $"{Repo.Relative(path)}: {line[..equals]} twice");
        }

        return entries;
    }

    /// <summary>The env files of every configMapGenerator in a kustomization, by generator name.</summary>
    public static IEnumerable<(string Generator, string Path)> GeneratorEnvFiles(string directory) =>
        Kustomization(directory).Root.Items("configMapGenerator")
            .SelectMany(g => g.Items("envs").Select(e => (g.Text("name")!, Path.Combine(directory, ((YamlScalarNode)e).Value!))));
}

internal static class YamlNavigation
{
    /// <summary>The node at a path of mapping keys (strings) and sequence indexes (ints); null where there is none.</summary>
    public static YamlNode? At(this YamlNode node, params object[] path)
    {
        YamlNode? current = node;
        foreach (var step in path)
        {
            current = (current, step) switch
            {
                (YamlMappingNode map, string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null,
                (YamlSequenceNode list, int index) => index < list.Children.Count ? list.Children[index] : null,
                _ => null,
            };
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    public static string? Text(this YamlNode node, params object[] path) => node.At(path) is YamlScalarNode scalar ? scalar.Value : null;

    public static int? Number(this YamlNode node, params object[] path) =>
        int.TryParse(node.Text(path), System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    public static IEnumerable<YamlNode> Items(this YamlNode node, params object[] path) =>
        node.At(path) is YamlSequenceNode list ? list.Children : [];

    /// <summary>A mapping's scalar entries as a dictionary (labels, annotations, selectors).</summary>
    public static Dictionary<string, string> Pairs(this YamlNode node, params object[] path) =>
        node.At(path) is YamlMappingNode map
            ? map.Children.ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => (p.Value as YamlScalarNode)?.Value ?? "", StringComparer.Ordinal)
            : [];
}
