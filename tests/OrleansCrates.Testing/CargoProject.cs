using System.Diagnostics;
using System.Text;

namespace OrleansCrates.Testing;

/// <summary>The outcome of one cargo run. <see cref="KilledReason"/> is set when the process tree was killed.</summary>
public sealed record CargoResult(int ExitCode, string StdOut, string StdErr)
{
    public string Output => StdOut + StdErr;

    /// <summary>Why the run was killed (timeout or cancellation), or null when cargo exited by itself.</summary>
    public string? KilledReason { get; init; }

    public bool Succeeded => ExitCode == 0 && KilledReason is null;

    public override string ToString() =>
        $"exit {ExitCode}{(KilledReason is null ? string.Empty : $" ({KilledReason})")}\n{Output}";
}

/// <summary>
/// A temp directory holding a CARGO_HOME that replaces crates-io with a sparse registry, and a binary project
/// "consumer" that depends on a whole <see cref="CrateGraph"/>. Runs the real cargo against it.
/// </summary>
public sealed class CargoProject : IDisposable
{
    private readonly string _mainRs;
    private string _indexUrl;
    private string _extraConfig = "";
    private int _netRetry;
    private int _homeGeneration;

    private CargoProject(string root, string indexUrl, int netRetry, string cargoToml, string mainRs)
    {
        Root = root;
        _indexUrl = indexUrl;
        _netRetry = netRetry;
        _mainRs = mainRs;
        ProjectDir = Path.Combine(root, "consumer");
        TargetDir = Path.Combine(root, "target");
        CargoHome = Path.Combine(root, "cargo-home");
        Directory.CreateDirectory(Path.Combine(ProjectDir, "src"));
        File.WriteAllText(Path.Combine(ProjectDir, "Cargo.toml"), cargoToml);
        File.WriteAllText(Path.Combine(ProjectDir, "src", "main.rs"), mainRs);
        WriteConfig();
    }

    /// <summary>The cargo executable used: /root/.cargo/bin/cargo (or $CARGO_HOME/bin, ~/.cargo/bin), else "cargo" from PATH.</summary>
    public static string CargoExecutable { get; } = FindCargo();

    /// <summary>
    /// Creates the project. <paramref name="indexUrl"/> is the sparse index URL ending in '/', with or without the
    /// <c>sparse+</c> prefix.
    /// </summary>
    public static CargoProject Create(string indexUrl, CrateGraph graph, int netRetry = 2)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexUrl);
        ArgumentNullException.ThrowIfNull(graph);
        var root = Path.Combine(Path.GetTempPath(), "orleanscrates-cargo-" + Guid.NewGuid().ToString("N")[..12]);
        var cargoToml =
            "[package]\n"
            + "name = \"consumer\"\n"
            + "version = \"0.1.0\"\n"
            + "edition = \"2021\"\n"
            + "publish = false\n"
            + "\n"
            + "# Keeps the project out of any workspace above the temp directory.\n"
            + "[workspace]\n"
            + "\n"
            + "[profile.dev]\n"
            + "debug = false\n"
            + "incremental = false\n"
            + "\n"
            + "[dependencies]\n"
            + graph.ConsumerDependenciesToml;
        return new CargoProject(root, indexUrl, netRetry, cargoToml, graph.ConsumerMainRs);
    }

    public string Root { get; }

    public string CargoHome { get; private set; }

    public string ProjectDir { get; }

    /// <summary>CARGO_TARGET_DIR (under <see cref="Root"/>, shared across <see cref="UseFreshCargoHome"/>).</summary>
    public string TargetDir { get; }

    /// <summary>The index URL the config currently points at (without <c>sparse+</c>).</summary>
    public string IndexUrl => _indexUrl;

    /// <summary>CARGO_HTTP_TIMEOUT in seconds: cargo's connect timeout and low-speed window (default 10).</summary>
    public int HttpTimeoutSeconds { get; set; } = 10;

    /// <summary>Extra environment variables for every run (null value removes a variable).</summary>
    public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    public string CargoTomlPath => Path.Combine(ProjectDir, "Cargo.toml");

    public string LockfilePath => Path.Combine(ProjectDir, "Cargo.lock");

    public string MainRs => _mainRs;

    /// <summary>
    /// Runs cargo in <see cref="ProjectDir"/>. On timeout (default 3 minutes) or cancellation the whole process tree
    /// is killed and the result says so in <see cref="CargoResult.KilledReason"/> (exit code -1).
    /// </summary>
    public Task<CargoResult> RunAsync(
        IEnumerable<string> args,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        RunInAsync(ProjectDir, args, timeout, cancellationToken);

    /// <summary>Runs cargo in another folder (a crate to publish, say) with this project's CARGO_HOME and settings.</summary>
    public async Task<CargoResult> RunInAsync(
        string workingDirectory,
        IEnumerable<string> args,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var argList = args.ToList();
        var limit = timeout ?? TimeSpan.FromMinutes(3);
        var start = new ProcessStartInfo(CargoExecutable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in argList)
        {
            start.ArgumentList.Add(arg);
        }

        ConfigureEnvironment(start.Environment);

        using var process = new Process { StartInfo = start };
        process.Start();
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);

        string? killed = null;
        using var timeoutCts = new CancellationTokenSource(limit);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeoutCts.Token, cancellationToken);
        try
        {
            await process.WaitForExitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            killed = cancellationToken.IsCancellationRequested
                ? "cancelled: process tree killed"
                : $"timed out after {limit}: process tree killed";
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited in the meantime.
            }

            await process.WaitForExitAsync(CancellationToken.None);
        }

        var output = await stdout;
        var error = await stderr;
        if (killed is not null)
        {
            error += $"\n[CargoProject] cargo {string.Join(' ', argList)} {killed}\n";
        }

        return new CargoResult(killed is null ? process.ExitCode : -1, output, error) { KilledReason = killed };
    }

    /// <summary>
    /// Appends TOML to config.toml, kept across <see cref="UseFreshCargoHome"/> — e.g. a <c>[registries.internal]</c>
    /// table and <c>[registry] global-credential-providers</c>.
    /// </summary>
    public void AddConfig(string toml)
    {
        _extraConfig += "\n" + toml.TrimEnd() + "\n";
        WriteConfig();
    }

    /// <summary>Switches to a new, empty CARGO_HOME with the same config.toml (nothing cached client-side).</summary>
    public void UseFreshCargoHome()
    {
        _homeGeneration++;
        CargoHome = Path.Combine(Root, $"cargo-home-{_homeGeneration}");
        WriteConfig();
    }

    /// <summary>Points config.toml of the current CARGO_HOME (and of later fresh ones) at another sparse index.</summary>
    public void SetRegistry(string indexUrl)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexUrl);
        _indexUrl = indexUrl;
        WriteConfig();
    }

    /// <summary>Changes net.retry in config.toml.</summary>
    public void SetNetRetry(int netRetry)
    {
        _netRetry = netRetry;
        WriteConfig();
    }

    /// <summary>Deletes Cargo.lock (so the next resolve starts from scratch).</summary>
    public void DeleteLockfile() => File.Delete(LockfilePath);

    public string ReadLockfile() => File.ReadAllText(LockfilePath);

    /// <summary>Every <c>[[package]]</c> of Cargo.lock that has a checksum (registry packages), keyed by name and version.</summary>
    public IReadOnlyDictionary<(string Name, string Version), string> LockfileChecksums() =>
        LockfilePackages()
            .Where(p => p.Checksum is not null)
            .ToDictionary(p => (p.Name, p.Version), p => p.Checksum!);

    /// <summary>Every <c>[[package]]</c> of Cargo.lock: name, version, source (null for the consumer) and checksum.</summary>
    public IReadOnlyList<LockedPackage> LockfilePackages() => ParseLockfile(ReadLockfile());

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a killed cargo may still hold files briefly.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    internal static IReadOnlyList<LockedPackage> ParseLockfile(string text)
    {
        var packages = new List<LockedPackage>();
        Dictionary<string, string>? current = null;
        void Flush()
        {
            if (current is not null && current.TryGetValue("name", out var name) && current.TryGetValue("version", out var version))
            {
                packages.Add(new LockedPackage(name, version, current.GetValueOrDefault("source"), current.GetValueOrDefault("checksum")));
            }
        }

        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.StartsWith('['))
            {
                Flush();
                current = line == "[[package]]" ? new Dictionary<string, string>(StringComparer.Ordinal) : null;
                continue;
            }

            var eq = line.IndexOf(" = \"", StringComparison.Ordinal);
            if (current is null || eq <= 0 || !line.EndsWith('"'))
            {
                continue;
            }

            current[line[..eq]] = line[(eq + 4)..^1];
        }

        Flush();
        return packages;
    }

    private void ConfigureEnvironment(IDictionary<string, string?> env)
    {
        // Nothing from the test runner's cargo settings may leak in (CARGO_HOME, CARGO_TARGET_DIR, registries...).
        foreach (var key in env.Keys.Where(k => k.StartsWith("CARGO_", StringComparison.Ordinal) || k is "RUSTFLAGS" or "RUSTC_WRAPPER").ToList())
        {
            env.Remove(key);
        }

        env["CARGO_HOME"] = CargoHome;
        env["CARGO_TARGET_DIR"] = TargetDir;
        env["CARGO_TERM_COLOR"] = "never";
        env["CARGO_TERM_PROGRESS_WHEN"] = "never";
        env["CARGO_HTTP_TIMEOUT"] = HttpTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["CARGO_INCREMENTAL"] = "0";

        // The rustup proxy finds its toolchains through RUSTUP_HOME (default ~/.rustup), not CARGO_HOME, so a
        // temp CARGO_HOME works as long as RUSTUP_HOME stays right; pin it explicitly.
        if (!env.TryGetValue("RUSTUP_HOME", out var rustupHome) || string.IsNullOrEmpty(rustupHome))
        {
            var home = System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
            var candidate = Path.Combine(home, ".rustup");
            if (Directory.Exists(candidate))
            {
                env["RUSTUP_HOME"] = candidate;
            }
        }

        foreach (var (key, value) in Environment)
        {
            if (value is null)
            {
                env.Remove(key);
            }
            else
            {
                env[key] = value;
            }
        }
    }

    private void WriteConfig()
    {
        Directory.CreateDirectory(CargoHome);
        var config =
            "# Written by OrleansCrates.Testing.CargoProject.\n"
            + "[source.crates-io]\n"
            + "replace-with = \"mirror\"\n"
            + "\n"
            + "[source.mirror]\n"
            + $"registry = {RustSource.Quote(SparseUrl(_indexUrl))}\n"
            + "\n"
            + "[net]\n"
            + $"retry = {_netRetry}\n"
            + "\n"
            + "[term]\n"
            + "color = \"never\"\n"
            + _extraConfig;
        File.WriteAllText(Path.Combine(CargoHome, "config.toml"), config);
    }

    private static string SparseUrl(string indexUrl) =>
        indexUrl.StartsWith("sparse+", StringComparison.Ordinal) ? indexUrl : "sparse+" + indexUrl;

    private static string FindCargo()
    {
        var candidates = new List<string> { "/root/.cargo/bin/cargo" };
        var cargoHome = System.Environment.GetEnvironmentVariable("CARGO_HOME");
        if (!string.IsNullOrEmpty(cargoHome))
        {
            candidates.Add(Path.Combine(cargoHome, "bin", "cargo"));
        }

        candidates.Add(Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cargo", "bin", "cargo"));
        return candidates.FirstOrDefault(File.Exists) ?? "cargo";
    }
}

/// <summary>One <c>[[package]]</c> of a Cargo.lock.</summary>
public sealed record LockedPackage(string Name, string Version, string? Source, string? Checksum);
