using System.Diagnostics;

namespace OrleansCrates.Testing;

/// <summary>
/// A small tmpfs mounted on a fresh folder, to make writes fail for real with ENOSPC (needs root, as test.sh runs).
/// <see cref="FillAsync"/> takes every free byte; <see cref="Free"/> gives it back. Disposal unmounts.
/// </summary>
public sealed class TmpfsMount : IAsyncDisposable
{
    private readonly string _filler;

    private TmpfsMount(string path)
    {
        Path = path;
        _filler = System.IO.Path.Combine(path, "filler");
    }

    public string Path { get; }

    public static async Task<TmpfsMount> MountAsync(long bytes, CancellationToken cancellationToken)
    {
        var path = Directory.CreateTempSubdirectory("oc-tmpfs-").FullName;
        var (code, output) = await RunAsync("mount", ["-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", path], cancellationToken);
        if (code != 0)
        {
            Directory.Delete(path);
            throw new InvalidOperationException($"These tests make a disk fill up for real and need to mount a tmpfs (run as root): mount said {output}");
        }

        return new TmpfsMount(path);
    }

    /// <summary>Writes a file until the filesystem is full (ENOSPC), in ever smaller pieces, so nothing is left.</summary>
    public async Task FillAsync(CancellationToken cancellationToken)
    {
        await using var filler = new FileStream(_filler, FileMode.Append, FileAccess.Write, FileShare.None, 0);
        foreach (var size in new[] { 64 * 1024, 4096, 1 })
        {
            var chunk = new byte[size];
            try
            {
                while (true)
                {
                    await filler.WriteAsync(chunk, cancellationToken);
                }
            }
            catch (IOException)
            {
                // Full at this piece size; try a smaller one.
            }
        }
    }

    /// <summary>Removes what <see cref="FillAsync"/> wrote.</summary>
    public void Free() => File.Delete(_filler);

    public async ValueTask DisposeAsync()
    {
        await RunAsync("umount", ["-l", Path], CancellationToken.None);
        Directory.Delete(Path, recursive: true);
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }
}
