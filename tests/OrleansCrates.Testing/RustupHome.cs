using System.Diagnostics;

namespace OrleansCrates.Testing;

/// <summary>
/// The machine's real rustup (<c>~/.cargo/bin/rustup</c>) run with a fresh <c>RUSTUP_HOME</c> and <c>CARGO_HOME</c>
/// of its own, pointed at a dist server. <c>RUSTUP_UPDATE_ROOT</c> points nowhere and installs pass
/// <c>--no-self-update</c>: the machine's rustup must never replace itself from a test server.
/// </summary>
public sealed class RustupHome : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("oc-rustup-").FullName;

    public RustupHome(string distServer) => DistServer = distServer;

    public string DistServer { get; }

    public static string Executable => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cargo", "bin", "rustup");

    public string Home => Path.Combine(_root, "rustup");

    /// <summary>Runs rustup; the result holds its exit code and both outputs.</summary>
    public async Task<(int ExitCode, string Output)> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["RUSTUP_HOME"] = Home;
        start.Environment["CARGO_HOME"] = Path.Combine(_root, "cargo");
        start.Environment["RUSTUP_DIST_SERVER"] = DistServer;
        start.Environment["RUSTUP_UPDATE_ROOT"] = "http://127.0.0.1:9/never-self-update";
        start.Environment.Remove("RUSTUP_TOOLCHAIN");
        start.Environment["RUSTUP_TERM_COLOR"] = "never";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("rustup did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary><c>rustup toolchain install TOOLCHAIN --profile minimal --no-self-update</c>, failing with rustup's output.</summary>
    public async Task InstallAsync(string toolchain, CancellationToken cancellationToken)
    {
        var (exit, output) = await RunAsync(cancellationToken, "toolchain", "install", toolchain, "--profile", "minimal", "--no-self-update");
        if (exit != 0)
        {
            throw new InvalidOperationException($"rustup toolchain install {toolchain} from {DistServer} exited with {exit}:\n{output}");
        }
    }

    /// <summary>What the installed toolchain's <c>rustc</c> shim prints for <c>--version</c>.</summary>
    public async Task<string> RustcVersionAsync(string toolchain, CancellationToken cancellationToken)
    {
        var (exit, output) = await RunAsync(cancellationToken, "run", toolchain, "rustc", "--version");
        return exit == 0 ? output.Trim() : throw new InvalidOperationException($"rustup run {toolchain} rustc --version exited with {exit}:\n{output}");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
