using System.Diagnostics;
using System.Net;
using System.Text.Json;
using OrleansCrates.Testing;
using Xunit.Abstractions;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// The dashboard in a real headless Chromium (Debian's <c>/usr/bin/chromium</c>, driven by <c>tests/dashboard/check.mjs</c>
/// with playwright-core): after real traffic through a mirror process, the page loads, its three charts draw data
/// points, nothing is logged to the console, and a screenshot is saved.
/// </summary>
public sealed class DashboardTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-dash-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
    private static readonly FakeToolchain Release = FakeToolchain.Create();
    private FakeUpstream _upstream = null!;
    private FakeDistServer _distServer = null!;
    private MirrorProcess? _mirror;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(Graph);
        _distServer = await FakeDistServer.StartAsync(Release.Files);
    }

    public async Task DisposeAsync()
    {
        if (_mirror is not null)
        {
            await _mirror.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        await _distServer.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task The_dashboard_renders_traffic_charts_in_headless_chromium_without_console_errors()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (apt-get install -y chromium), as ./test.sh does when run as root.");
        var dashboard = Path.Combine(RepositoryRoot(), "tests", "dashboard");
        Assert.True(
            Directory.Exists(Path.Combine(dashboard, "node_modules", "playwright-core")),
            $"playwright-core is not installed: run `npm ci --prefix tests/dashboard` (./test.sh does it).");

        _mirror = await MirrorProcess.StartAsync(_upstream.IndexUrl, Path.Combine(_sandbox, "store"), new Dictionary<string, string>
        {
            ["Statistics__FlushInterval"] = "00:00:01",
            ["Directory__Mirrors__0__Name"] = "fake upstream",
            ["Directory__Mirrors__0__Url"] = _upstream.BaseUri.ToString(),
            ["Directory__Mirrors__1__Name"] = "gone mirror",
            ["Directory__Mirrors__1__Url"] = "http://127.0.0.1:9/",
            ["Directory__CheckTimeout"] = "00:00:02",
            ["Toolchains__Upstreams__0__Url"] = _distServer.Url,
        });

        // Traffic: index files, downloads (a miss then hits), a 404.
        var crate = Graph.Get("abc", "1.1.0");
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(Url("index/3/a/abc"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(Url("index/3/a/abc"))).StatusCode);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(crate.CrateBytes, await _http.GetByteArrayAsync(Url($"crates/{crate.Name}/{crate.Version}/download")));
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(Url("index/no/-s/no-such"))).StatusCode);

        // Toolchain traffic: a channel manifest (index traffic) and one archive (a download, shown apart from the crates).
        var archive = Release.Archives.First(a => a.EndsWith(".tar.xz", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(Url("rustup/dist/channel-rust-stable.toml"))).StatusCode);
        Assert.Equal(Release.Files[archive], await _http.GetByteArrayAsync(Url("rustup/" + archive)));

        // The flusher writes every second; wait (bounded) until the merged view shows the downloads.
        var deadline = Stopwatch.StartNew();
        JsonElement totals = default;
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            using var stats = JsonDocument.Parse(await _http.GetStringAsync(Url("api/v1/stats?days=7")));
            totals = stats.RootElement.GetProperty("totals").Clone();
            if (totals.GetProperty("downloads").GetInt64() >= 4 && totals.GetProperty("requests").GetInt64() >= 8)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.True(totals.GetProperty("downloads").GetInt64() == 4, $"Expected 4 downloads (3 crates, 1 toolchain archive) in /api/v1/stats within 30 s; totals were {totals}\n{_mirror.Output}");
        Assert.Equal(8, totals.GetProperty("requests").GetInt64());
        Assert.Equal((3 * crate.CrateBytes.Length) + Release.Files[archive].Length, totals.GetProperty("downloadBytes").GetInt64());

        var screenshot = Path.Combine(AppContext.BaseDirectory, "TestResults", "dashboard.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        File.Delete(screenshot);
        var (exit, stdout, stderr) = await RunNodeAsync(dashboard, [Path.Combine(dashboard, "check.mjs"), _mirror.BaseUri.ToString(), screenshot, Chromium]);
        output.WriteLine(stdout);
        output.WriteLine($"screenshot: {screenshot}");
        Assert.True(exit == 0, $"check.mjs failed ({exit}):\n{stdout}\n{stderr}");

        using var report = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var root = report.RootElement;
        Assert.True(root.GetProperty("ok").GetBoolean());
        Assert.Empty(root.GetProperty("consoleErrors").EnumerateArray());
        var requests = root.GetProperty("charts").EnumerateArray().Single(c => c.GetProperty("chart").GetString() == "requests");
        Assert.Contains(8.0, requests.GetProperty("values").EnumerateArray().Select(v => v.GetDouble())); // today's bar
        Assert.Contains(root.GetProperty("topCrates").EnumerateArray(), row => row.GetString()!.StartsWith("abc", StringComparison.Ordinal));
        Assert.DoesNotContain(root.GetProperty("topCrates").EnumerateArray(), row => row.GetString()!.Contains("toolchains", StringComparison.Ordinal));
        var archiveName = archive[(archive.LastIndexOf('/') + 1)..];
        var toolchainRow = Assert.Single(root.GetProperty("toolchains").EnumerateArray()).GetString()!;
        Assert.StartsWith(archiveName + Release.Date + "1", toolchainRow, StringComparison.Ordinal); // archive, release date, 1 download
        Assert.StartsWith("1 archive download", root.GetProperty("toolchainSummary").GetString(), StringComparison.Ordinal);
        Assert.Equal("off", root.GetProperty("approvals").GetString());
        Assert.Contains(_mirror.BaseUri.ToString().TrimEnd('/') + "/index/", root.GetProperty("cargoConfig").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, root.GetProperty("mirrors").GetArrayLength());
        var silo = Assert.Single(root.GetProperty("silos").EnumerateArray()).GetString()!; // this node, a one-silo cluster
        Assert.Contains("(this node)", silo, StringComparison.Ordinal);
        Assert.StartsWith("1 active silo, ", root.GetProperty("clusterSummary").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(", 0 crate grains", root.GetProperty("clusterSummary").GetString(), StringComparison.Ordinal); // the downloaded crate's grain
        Assert.True(File.Exists(screenshot) && new FileInfo(screenshot).Length > 10_000, $"Expected a screenshot at {screenshot}");
    }

    [Fact]
    public async Task With_no_traffic_the_page_and_its_data_sources_answer_and_the_charts_say_so()
    {
        _mirror = await MirrorProcess.StartAsync(_upstream.IndexUrl, Path.Combine(_sandbox, "store"));
        using var page = await _http.GetAsync(Url(""));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains($"registry = \"sparse+{_mirror.BaseUri.ToString().TrimEnd('/')}/index/\"", html, StringComparison.Ordinal);
        foreach (var asset in new[] { "dashboard/dashboard.js", "dashboard/dashboard.css" })
        {
            Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(Url(asset))).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(Url("dashboard/nope.js"))).StatusCode);
        using var stats = JsonDocument.Parse(await _http.GetStringAsync(Url("api/v1/stats")));
        Assert.Equal(14, stats.RootElement.GetProperty("days").GetArrayLength());
        Assert.Equal(0, stats.RootElement.GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Equal(JsonValueKind.Null, stats.RootElement.GetProperty("totals").GetProperty("hitRatio").ValueKind);
        using var mirrors = JsonDocument.Parse(await _http.GetStringAsync(Url("mirrors.json")));
        Assert.Equal(0, mirrors.RootElement.GetProperty("mirrors").GetArrayLength());
    }

    private Uri Url(string path) => new(_mirror!.BaseUri, path);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "tests", "dashboard", "check.mjs")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"tests/dashboard/check.mjs not found above {AppContext.BaseDirectory}");
    }

    private static async Task<(int Exit, string StdOut, string StdErr)> RunNodeAsync(string workingDirectory, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"check.mjs did not finish within 120 s:\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
