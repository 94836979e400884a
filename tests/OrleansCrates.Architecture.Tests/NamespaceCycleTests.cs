using System.Reflection;
using ArchUnitNET.Fluent;
using ArchUnitNET.Fluent.Slices;
using ArchUnitNET.Loader;

namespace OrleansCrates.Architecture.Tests;

/// <summary>
/// No namespace of the program depends on itself through another: if A uses B, nothing in B (or in what B uses)
/// uses A. A parent and its child namespace are two namespaces here (code in <c>OrleansCrates.Mirror.Policy</c> sees
/// <c>OrleansCrates.Mirror</c>'s types without a using, so such a cycle is easy to write and hard to see). Read from
/// the compiled assemblies (ArchUnitNET: every type a type's signatures, attributes and method bodies name), so
/// fully qualified names and parent-namespace lookups count, and a using nobody uses does not.
/// </summary>
public sealed class NamespaceCycleTests
{
    private static readonly Lazy<ArchUnitNET.Domain.Architecture> Program = new(() =>
        new ArchLoader().LoadAssemblies([.. ProgramAssemblies()]).Build());

    /// <summary>Every project under <c>src/</c>: the OrleansCrates assemblies beside the tests that are neither tests nor test support.</summary>
    private static IEnumerable<Assembly> ProgramAssemblies() =>
        Directory.EnumerateFiles(AppContext.BaseDirectory, "OrleansCrates.*.dll")
            .Select(Path.GetFileNameWithoutExtension)
            .Where(name => !name!.Contains(".Tests", StringComparison.Ordinal) && name != "OrleansCrates.Testing")
            .Order(StringComparer.Ordinal)
            .Select(name => Assembly.Load(name!));

    /// <summary>Each namespace below <c>OrleansCrates.</c> is a slice of its own (<c>Mirror</c>, <c>Mirror.Policy</c>, ...).</summary>
    private static IArchRule NoCycles(string root) => SliceRuleDefinition.Slices().Matching(root + ".(**)").Should().BeFreeOfCycles();

    [Fact]
    public void No_namespace_of_the_program_is_in_a_cycle()
    {
        var cycles = NoCycles("OrleansCrates").Evaluate(Program.Value).Where(r => !r.Passed).Select(r => r.Description).ToList();

        Assert.True(cycles.Count == 0, "namespace cycles:\n" + string.Join("\n", cycles));
    }

    [Fact]
    public void The_check_reads_every_project()
    {
        var namespaces = Program.Value.Namespaces.Select(n => n.FullName).ToHashSet(StringComparer.Ordinal);

        string[] expected =
        [
            "OrleansCrates.Protocol", "OrleansCrates.Storage", "OrleansCrates.Storage.AzureBlob", "OrleansCrates.Upstream",
            "OrleansCrates.Operations", "OrleansCrates.Operations.Telemetry", "OrleansCrates.Mirror", "OrleansCrates.Mirror.Policy",
            "OrleansCrates.Grains", "OrleansCrates.Registry", "OrleansCrates.Accounts", "OrleansCrates.Toolchains",
            "OrleansCrates.Server.Apis", "OrleansCrates.Server.Hosting", "OrleansCrates.Server.Operations.Health",
            "OrleansCrates.Cli", "OrleansCrates.Cli.Commands",
        ];
        var missing = expected.Where(n => !namespaces.Contains(n)).ToList();
        Assert.True(missing.Count == 0, "namespaces not read: " + string.Join(", ", missing));
    }

    /// <summary>The rule itself: it finds a cycle between a namespace and its child, and one between two siblings (see <see cref="Sample"/>).</summary>
    [Fact]
    public void A_cycle_is_found()
    {
        var sample = new ArchLoader().LoadAssemblies(typeof(NamespaceCycleTests).Assembly).Build();

        var cycles = NoCycles("OrleansCrates.Architecture.Tests.Sample").Evaluate(sample).Where(r => !r.Passed).Select(r => r.Description).ToList();

        Assert.NotEmpty(cycles);
        var all = string.Join("\n", cycles);
        Assert.Contains("Child", all, StringComparison.Ordinal);
        Assert.Contains("Left", all, StringComparison.Ordinal);
    }
}
