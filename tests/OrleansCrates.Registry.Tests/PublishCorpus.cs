namespace OrleansCrates.Registry.Tests;

/// <summary>
/// The bad-publish corpus in <c>tests/corpus/publish</c>: one cargo publish body per file and <c>cases.tsv</c> with
/// the status each must get (written by <c>generate.py</c> there; fuzzing finds go in too).
/// </summary>
public static class PublishCorpus
{
    public static string Folder { get; } = FindFolder();

    public static IReadOnlyList<(string File, int Status, string What)> Cases { get; } = ReadCases();

    public static byte[] Read(string file) => System.IO.File.ReadAllBytes(Path.Combine(Folder, file));

    private static List<(string, int, string)> ReadCases() =>
        [.. System.IO.File.ReadAllLines(Path.Combine(Folder, "cases.tsv"))
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line.Split('\t'))
            .Select(parts => (parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts[2]))];

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "corpus", "publish");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/corpus/publish not found above " + AppContext.BaseDirectory);
    }
}
