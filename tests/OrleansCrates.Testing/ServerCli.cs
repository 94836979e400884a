using System.Diagnostics;

namespace OrleansCrates.Testing;

/// <summary>Runs the operator CLI (<c>OrleansCrates.Cli.dll token ...</c>, <c>approvals ...</c>) as a real process.</summary>
public static class ServerCli
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static async Task<Result> RunAsync(IReadOnlyDictionary<string, string> environment, IEnumerable<string> args, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(MirrorProcess.DefaultCliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Creates a token in the store at <paramref name="storageRoot"/> and returns the secret.</summary>
    public static async Task<string> CreateTokenAsync(string storageRoot, string user, string scope = "publish", string? crates = null, CancellationToken cancellationToken = default)
    {
        var args = new List<string> { "token", "create", "--user", user, "--scope", scope };
        if (crates is not null)
        {
            args.AddRange(["--crates", crates]);
        }

        var result = await RunAsync(new Dictionary<string, string> { ["Storage__FileSystem__Root"] = storageRoot }, args, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"token create failed ({result.ExitCode}): {result.StdErr}");
        }

        return result.StdOut.Trim();
    }
}
