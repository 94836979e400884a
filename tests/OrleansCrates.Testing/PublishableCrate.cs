namespace OrleansCrates.Testing;

/// <summary>A crate on disk that the real `cargo publish` can package and upload to a registry named "internal".</summary>
public static class PublishableCrate
{
    /// <param name="dependencyLines">Lines for [dependencies], e.g. <c>acme-util = { version = "0.1", registry = "internal" }</c>.</param>
    /// <param name="libRs">The library source; defaults to one function.</param>
    /// <param name="extraFileBytes">Adds an incompressible file of this size (for size-limit tests).</param>
    public static string Write(string parent, string name, string version, IEnumerable<string>? dependencyLines = null, string? libRs = null, int extraFileBytes = 0)
    {
        var dir = Path.Combine(parent, $"{name}-{version}-src");
        Directory.CreateDirectory(Path.Combine(dir, "src"));
        File.WriteAllText(Path.Combine(dir, "Cargo.toml"), $"""
            [package]
            name = "{name}"
            version = "{version}"
            edition = "2021"
            description = "test crate {name}"
            license = "MIT"

            [dependencies]
            {string.Join('\n', dependencyLines ?? [])}
            """);
        File.WriteAllText(Path.Combine(dir, "src", "lib.rs"), libRs ?? "pub fn hello() -> u32 { 42 }\n");
        if (extraFileBytes > 0)
        {
            var bytes = new byte[extraFileBytes];
            new Random(7).NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(dir, "src", "blob.bin"), bytes);
        }

        return dir;
    }
}
