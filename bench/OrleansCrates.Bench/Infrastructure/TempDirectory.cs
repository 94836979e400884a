namespace OrleansCrates.Bench.Infrastructure;

/// <summary>A fresh directory under the system temp folder, deleted recursively on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    private TempDirectory(string path)
    {
        Path = path;
    }

    public string Path { get; }

    public static TempDirectory Create(string purpose) =>
        new(Directory.CreateTempSubdirectory($"orleanscrates-bench-{purpose}-").FullName);

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"warning: could not delete {Path}: {ex.Message}");
        }
    }
}
