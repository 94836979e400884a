namespace OrleansCrates.Bench.Infrastructure;

/// <summary>Locations inside the repository, found by walking up to the directory holding OrleansCrates.sln.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string DefaultServerDll =>
        Path.Combine(Root, "src", "OrleansCrates.Server", "bin", "Release", "net10.0", "OrleansCrates.Server.dll");

    /// <summary>The operator CLI (src/OrleansCrates.Cli), built beside the server by run.sh's solution build.</summary>
    public static string DefaultCliDll =>
        Path.Combine(Root, "src", "OrleansCrates.Cli", "bin", "Release", "net10.0", "OrleansCrates.Cli.dll");

    public static string DefaultOutputDirectory => Path.Combine(Root, "bench", "out");

    private static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OrleansCrates.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Environment.CurrentDirectory;
    }
}
