namespace OrleansCrates.Testing;

/// <summary>
/// The default graph. Every shape a mirror must pass through untouched appears at least once: names of 1, 2, 3
/// and 4+ characters, a mixed-case name, '-' and '_', several versions per crate, two semver-incompatible
/// groups of one crate (ab 0.1 and 0.2), a yanked newest version (abc 1.2.0), a build-metadata version
/// (build-meta 1.2.0+build.7), features with an optional dependency enabled through a feature, a renamed
/// dependency, a target-specific dependency, default-features = false, and a dev-dependency.
/// </summary>
internal static class DefaultCrateGraph
{
    public const string LongName = "a-very-long-crate-name-for-index-prefixes";

    public static CrateGraph Build()
    {
        static CrateDependency Dep(string name, string req) => new(name, req);
        var noFeatures = new Dictionary<string, IReadOnlyList<string>>();
        var stdFeatures = new Dictionary<string, IReadOnlyList<string>>
        {
            ["default"] = ["std"],
            ["std"] = [],
        };
        var extrasFeatures = new Dictionary<string, IReadOnlyList<string>>(stdFeatures)
        {
            ["extras"] = ["opt-helper"],
        };

        var crates = new List<SyntheticCrate>
        {
            // Leaves, several versions each: resolution must pick the newest matching one.
            CrateGraph.BuildCrate("a", "1.0.0"),
            CrateGraph.BuildCrate("a", "1.0.1"),
            CrateGraph.BuildCrate("a", "1.1.0"),
            CrateGraph.BuildCrate("ab", "0.1.0"),
            CrateGraph.BuildCrate("ab", "0.1.1"),
            CrateGraph.BuildCrate("ab", "0.2.0", [Dep("a", "^1.0")]),
            CrateGraph.BuildCrate("abc", "1.0.0"),
            CrateGraph.BuildCrate("abc", "1.1.0", [Dep("ab", "^0.1")]),
            // The newest abc is yanked: cargo must lock 1.1.0.
            CrateGraph.BuildCrate("abc", "1.2.0", [Dep("ab", "^0.1")], yanked: true),
            CrateGraph.BuildCrate("abcd", "2.0.0", [Dep("a", "^1.0")]),
            CrateGraph.BuildCrate("abcd", "2.0.1", [Dep("a", "^1.0"), Dep("abc", "^1.0")]),
            CrateGraph.BuildCrate("MixedCase", "1.0.0", [Dep("ab", "^0.2")]),
            CrateGraph.BuildCrate("MixedCase", "1.1.0", [Dep("ab", "^0.2")]),
            CrateGraph.BuildCrate("build-meta", "1.1.0", [Dep("a", "^1")]),
            CrateGraph.BuildCrate("build-meta", "1.2.0+build.7", [Dep("a", "^1")]),
            CrateGraph.BuildCrate("dash-name", "0.3.0", [Dep("MixedCase", "^1.0")]),
            CrateGraph.BuildCrate("dash-name", "0.3.1", [Dep("MixedCase", "^1.0")]),
            CrateGraph.BuildCrate("under_score", "0.1.0", [Dep("dash-name", "^0.3")]),
            CrateGraph.BuildCrate("under_score", "0.1.5", [Dep("dash-name", "^0.3")]),
            CrateGraph.BuildCrate("mixed-dash_under", "0.1.0", [Dep("under_score", "^0.1")]),
            CrateGraph.BuildCrate("opt-helper", "1.0.0"),
            CrateGraph.BuildCrate("opt-helper", "1.0.2"),
            CrateGraph.BuildCrate("feat-core", "1.0.0", features: stdFeatures),
            CrateGraph.BuildCrate(
                "feat-core",
                "1.1.0",
                [
                    new CrateDependency("a", "^1.0", DefaultFeatures: false),
                    new CrateDependency("opt-helper", "^1.0", Optional: true),
                ],
                extrasFeatures),
            CrateGraph.BuildCrate("real-name", "1.0.0"),
            CrateGraph.BuildCrate("real-name", "1.3.0"),
            CrateGraph.BuildCrate(
                "renamer",
                "0.5.0",
                [
                    new CrateDependency("alias_dep", "^1.0", Package: "real-name"),
                    new CrateDependency("feat-core", "^1.1", DefaultFeatures: false, Features: ["extras"]),
                ]),
            CrateGraph.BuildCrate("target-dep", "0.1.0"),
            CrateGraph.BuildCrate("plat", "1.0.0", [new CrateDependency("target-dep", "^0.1", Target: "cfg(unix)")]),
            CrateGraph.BuildCrate(
                "devdep-user",
                "1.0.0",
                [Dep("a", "^1"), new CrateDependency("abc", "^1.0", Kind: "dev")]),
            CrateGraph.BuildCrate(LongName, "0.1.0", features: noFeatures),
            CrateGraph.BuildCrate("top-level", "2.0.0", [Dep("abcd", "^2")]),
            CrateGraph.BuildCrate(
                "top-level",
                "3.0.0",
                [
                    Dep("abcd", "^2"),
                    Dep("build-meta", "^1.2"),
                    Dep("renamer", "^0.5"),
                    Dep("plat", "^1"),
                    Dep("devdep-user", "^1"),
                    Dep("mixed-dash_under", "^0.1"),
                    Dep(LongName, "^0.1"),
                ]),
        };
        return CrateGraph.Create(crates);
    }
}
