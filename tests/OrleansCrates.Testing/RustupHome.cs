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
        start.Environment["CARGO_HOME"] = CargoHome;
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

    public string CargoHome => Path.Combine(_root, "cargo");

    /// <summary>
    /// What the installed toolchain's <c>rustc</c> prints for <c>--version</c>, run the way a user runs it: through the
    /// <c>rustc</c> shim in <c>$CARGO_HOME/bin</c> (a link to rustup, as rustup-init installs it; made here when the
    /// install did not), which resolves the toolchain in this <c>RUSTUP_HOME</c>. Also checks that
    /// <c>rustup which rustc</c> names a file inside this <c>RUSTUP_HOME</c> that prints the same.
    /// </summary>
    public async Task<string> RustcVersionAsync(string toolchain, CancellationToken cancellationToken)
    {
        var (whichExit, which) = await RunAsync(cancellationToken, "which", "rustc", "--toolchain", toolchain);
        var rustc = which.Trim();
        if (whichExit != 0 || !rustc.StartsWith(Home + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(rustc))
        {
            throw new InvalidOperationException($"rustup which rustc --toolchain {toolchain} exited with {whichExit} naming '{rustc}', not a file under {Home}");
        }

        var direct = await RunProgramAsync(rustc, ["--version"], cancellationToken);
        var shim = Path.Combine(CargoHome, "bin", "rustc");
        if (!File.Exists(shim))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(shim)!);
            File.CreateSymbolicLink(shim, Executable);
        }

        var proxied = await RunProgramAsync(shim, ["+" + toolchain, "--version"], cancellationToken);
        return direct == proxied
            ? proxied
            : throw new InvalidOperationException($"{rustc} printed '{direct}' but the shim {shim} printed '{proxied}'");
    }

    private async Task<string> RunProgramAsync(string program, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["RUSTUP_HOME"] = Home;
        start.Environment["CARGO_HOME"] = CargoHome;
        start.Environment.Remove("RUSTUP_TOOLCHAIN");
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = (await stdout).Trim();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}\n{await stderr}");
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
