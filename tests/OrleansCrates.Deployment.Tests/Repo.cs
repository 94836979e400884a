namespace OrleansCrates.Deployment.Tests;

/// <summary>Paths of the deployment files in the repository this test runs from.</summary>
internal static class Repo
{
    public static readonly string Root = FindRoot();

    public static readonly string Bicep = Path.Combine(Root, "bicep");

    public static readonly string Kubernetes = Path.Combine(Root, "infra", "k8s");

    public static readonly string Dockerfile = Path.Combine(Root, "infra", "Dockerfile");

    public static string Relative(string path) => Path.GetRelativePath(Root, path);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansCrates.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"OrleansCrates.sln not found above {AppContext.BaseDirectory}");
    }
}
