namespace OrleansCrates.Testing;

/// <summary>
/// One dependency of a <see cref="SyntheticCrate"/>, written both to the index line (<c>deps[]</c>) and to the
/// packaged Cargo.toml. <paramref name="Name"/> is the name the dependent uses (an alias when
/// <paramref name="Package"/> is set); <paramref name="Package"/> is the real crate name of a renamed dependency.
/// </summary>
public sealed record CrateDependency(
    string Name,
    string Req,
    string? Package = null,
    bool Optional = false,
    bool DefaultFeatures = true,
    IReadOnlyList<string>? Features = null,
    string Kind = "normal",
    string? Target = null)
{
    /// <summary>The real crate name: <see cref="Package"/> when renamed, else <see cref="Name"/>.</summary>
    public string CrateName => Package ?? Name;
}
