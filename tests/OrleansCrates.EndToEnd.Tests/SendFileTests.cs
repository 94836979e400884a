using System.Net;
using OrleansCrates.Testing;

using static OrleansCrates.EndToEnd.Tests.CargoRuns;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Crate files sent by the kernel (<c>Server:SendFile</c>, on by default) to the real cargo, which checks every file
/// against the index's checksum: from the hot layer's memory file, and from the stored file on disk when the hot layer
/// is off. With the setting off, the node runs Kestrel's own transport and cargo sees the same bytes.
/// </summary>
public sealed class SendFileTests : IAsyncLifetime
{
    private const string KernelBytes = "orleanscrates_served_kernel_bytes_total";

    // A crate big enough to be sent by the kernel, and a small one (always copied) beside it.
    private static readonly CrateGraph Graph = CrateGraph.Create(
    [
        CrateGraph.BuildCrate("big-payload", "1.0.0", paddingBytes: 300_000),
        CrateGraph.BuildCrate("small-helper", "1.0.0"),
    ]);

    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-sendfile-").FullName;
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(Graph);

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Theory]
    [InlineData(null, "this project's, crate files sent by the kernel (sendfile)")]
    [InlineData("false", "Kestrel's, every body copied")]
    public async Task Cargo_gets_checksummed_crates_sent_by_the_kernel_from_memory_and_from_disk(string? setting, string transport)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = deadline.Token;
        var root = Path.Combine(_sandbox, "store");
        var settings = setting is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["Server__SendFile"] = setting };
        var big = Graph.Get("big-payload", "1.0.0");
        var kernel = setting is null;

        double warmKernelBytes;
        await using (var mirror = await MirrorProcess.StartAsync(_upstream.IndexUrl, root, settings, ct))
        {
            using var project = CargoProject.Create(mirror.IndexUrl, Graph);
            await CargoAsync(project, mirror, ct, "generate-lockfile");
            await CargoAsync(project, mirror, ct, "fetch"); // cold: fetched upstream, stored, admitted to the hot layer
            var before = await KernelBytesAsync(mirror);
            project.UseFreshCargoHome();
            await CargoAsync(project, mirror, ct, "fetch"); // warm: from the hot layer
            warmKernelBytes = await KernelBytesAsync(mirror) - before;
            Assert.Contains($"Socket transport: {transport} (Server:SendFile)", mirror.Output, StringComparison.Ordinal);
            AssertLockedWithUpstreamChecksums(project);
        }

        // The same store with the hot layer off: the stored file on disk.
        settings["Mirror__HotFileCacheBytes"] = "0";
        await using var fromDisk = await MirrorProcess.StartAsync(_upstream.IndexUrl, root, settings, ct);
        using var again = CargoProject.Create(fromDisk.IndexUrl, Graph);
        await CargoAsync(again, fromDisk, ct, "generate-lockfile");
        await CargoAsync(again, fromDisk, ct, "fetch");
        var diskKernelBytes = await KernelBytesAsync(fromDisk);
        AssertLockedWithUpstreamChecksums(again);

        // Only the big crate is sent by the kernel (the small one is below the size worth it), once per fetch.
        Assert.Equal(kernel ? (big.CrateBytes.Length, big.CrateBytes.Length) : (0, 0), (warmKernelBytes, diskKernelBytes));
        Assert.Equal(1, _upstream.Downloads(big.Name, big.Version));
    }

    private static void AssertLockedWithUpstreamChecksums(CargoProject project)
    {
        var locked = project.LockfilePackages().Where(p => p.Checksum is not null).ToList();
        Assert.Equal(Graph.Crates.Select(c => (c.Name, c.Version, c.Sha256)).Order(), locked.Select(p => (p.Name, p.Version, p.Checksum!)).Order());
    }

    private static async Task<double> KernelBytesAsync(MirrorProcess mirror)
    {
        using var http = new HttpClient { BaseAddress = mirror.BaseUri };
        using var response = await http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var scrape = PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
        return scrape.Types.ContainsKey(KernelBytes) ? scrape.Sum(KernelBytes) : 0;
    }
}
