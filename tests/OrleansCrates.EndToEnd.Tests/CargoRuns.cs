using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>A cargo command that must succeed against a mirror (`using static`: tests call <see cref="CargoAsync"/>).</summary>
internal static class CargoRuns
{
    /// <summary>Runs cargo (3 minutes at most); a failure shows cargo's output and the mirror's.</summary>
    public static async Task CargoAsync(CargoProject project, MirrorProcess mirror, CancellationToken ct, params string[] args)
    {
        var result = await project.RunAsync(args, TimeSpan.FromMinutes(3), ct);
        Assert.True(result.ExitCode == 0, $"cargo {string.Join(' ', args)} failed ({result.ExitCode}):\n{result.Output}\nmirror said:\n{mirror.Output}");
    }
}
