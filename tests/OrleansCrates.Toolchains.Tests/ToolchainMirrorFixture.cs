using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>A fake dist server with a release on it and a real mirror process in front of it, each test its own.</summary>
internal sealed class ToolchainMirrorFixture : IAsyncDisposable
{
    private readonly string _sandbox;

    private readonly Dictionary<string, string> _environment;

    private ToolchainMirrorFixture(string sandbox, FakeToolchain release, FakeDistServer upstream, MirrorProcess mirror, Dictionary<string, string> environment)
    {
        _sandbox = sandbox;
        Release = release;
        Upstream = upstream;
        Mirror = mirror;
        _environment = environment;
    }

    public FakeToolchain Release { get; }

    public FakeDistServer Upstream { get; }

    public MirrorProcess Mirror { get; private set; }

    /// <summary>What users put in RUSTUP_DIST_SERVER.</summary>
    public string DistServer => Mirror.BaseUri + "rustup";

    public string StorageRoot => Mirror.StorageRoot;

    public static async Task<ToolchainMirrorFixture> StartAsync(CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? settings = null, FakeToolchain? release = null)
    {
        var sandbox = Directory.CreateTempSubdirectory("oc-toolchains-").FullName;
        release ??= FakeToolchain.Create();
        var upstream = await FakeDistServer.StartAsync(release.Files, cancellationToken);
        var environment = new Dictionary<string, string>
        {
            ["Toolchains__Upstreams__0__Url"] = upstream.Url,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        // The crate upstream is never asked in these tests.
        var mirror = await MirrorProcess.StartAsync("http://127.0.0.1:9/index/", Path.Combine(sandbox, "store"), environment, cancellationToken);
        return new ToolchainMirrorFixture(sandbox, release, upstream, mirror, environment);
    }

    /// <summary>
    /// Stops the mirror process and starts another on the same store (a restarted node: nothing in memory), with
    /// <paramref name="settings"/> over the first one's (e.g. another upstream, a policy).
    /// </summary>
    public async Task RestartAsync(CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? settings = null)
    {
        await Mirror.DisposeAsync();
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            _environment[key] = value;
        }

        Mirror = await MirrorProcess.StartAsync("http://127.0.0.1:9/index/", Path.Combine(_sandbox, "store"), _environment, cancellationToken);
    }

    /// <summary>The environment the CLI needs to work on this mirror's store with its settings.</summary>
    public Dictionary<string, string> CliEnvironment => new(_environment) { ["Storage__FileSystem__Root"] = StorageRoot };

    /// <summary>Stored objects under the store's toolchain keys (never temp files).</summary>
    public IReadOnlyList<string> StoredToolchainFiles()
    {
        var root = Path.Combine(StorageRoot, "toolchains");
        return Directory.Exists(root)
            ? [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(StorageRoot, f).Replace('\\', '/'))
                .Where(f => !f.Split('/').Any(s => s.StartsWith('.')))]
            : [];
    }

    public async ValueTask DisposeAsync()
    {
        await Mirror.DisposeAsync();
        await Upstream.DisposeAsync();
        try
        {
            Directory.Delete(_sandbox, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
