using System.Net;
using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>
/// A client waiting on a cold crate file receives its bytes as they arrive (cargo gives up on 30 s of silence and checks
/// the sha256 itself), while storage still keeps only the verified file, and a body that does not verify breaks the
/// client's transfer instead of completing.
/// </summary>
public sealed class ColdCrateStreamingTests : IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-stream-").FullName;
    private FakeUpstream _upstream = null!;
    private MirrorProcess _mirror = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(Graph);
        _mirror = await MirrorProcess.StartAsync(_upstream.IndexUrl, Path.Combine(_sandbox, "store"));
    }

    public async Task DisposeAsync()
    {
        await _mirror.DisposeAsync();
        await _upstream.DisposeAsync();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task A_cold_crate_reaches_the_client_before_upstream_finishes_sending_it()
    {
        var ct = Deadline();
        var crate = Graph.Crates.MaxBy(c => c.CrateBytes.Length)!;
        var stall = _upstream.AddFault(new FaultRule { PathContains = $"/{crate.Name}/{crate.Version}/", Kind = FaultKind.Stall, Times = 1 });
        using var http = new HttpClient();

        using var response = await http.GetAsync(Download(crate), HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var half = crate.CrateBytes.Length / 2;
        var first = new byte[half - 1]; // the mirror holds back the last byte it has until the file verifies
        await body.ReadExactlyAsync(first, ct);
        Assert.True(stall.Stalled.IsCompleted, "the upstream sent half and holds the rest until released below");
        Assert.Equal(crate.CrateBytes.AsSpan(0, first.Length).ToArray(), first);

        stall.Release();
        using var all = new MemoryStream();
        all.Write(first);
        await body.CopyToAsync(all, ct);
        Assert.Equal(crate.CrateBytes, all.ToArray());
        Assert.Equal(1, _upstream.Downloads(crate.Name, crate.Version));

        // Stored verified: once its commit (which runs after the answer) is done, the next request is served from storage,
        // with the usual ETag. Before that, a request gets the verified download's own bytes, without one.
        await _mirror.SettledAsync();
        using var warm = await http.GetAsync(Download(crate), ct);
        Assert.Equal(crate.CrateBytes, await warm.Content.ReadAsByteArrayAsync(ct));
        Assert.NotNull(warm.Headers.ETag);
        Assert.Equal(1, _upstream.Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task A_cold_crate_that_does_not_verify_breaks_the_clients_transfer()
    {
        var ct = Deadline();
        var crate = Graph.Crates.MaxBy(c => c.CrateBytes.Length)!;
        _upstream.AddFault(new FaultRule { PathContains = $"/{crate.Name}/{crate.Version}/", Kind = FaultKind.WrongBytes, Times = 1 });
        using var http = new HttpClient();

        await ToolchainHttpTests.AssertNeverCompletesAsync(http, Download(crate).ToString(), ct);

        // Nothing was stored: the next request downloads again and gets the right bytes.
        Assert.Equal(crate.CrateBytes, await http.GetByteArrayAsync(Download(crate), ct));
        Assert.Equal(2, _upstream.Downloads(crate.Name, crate.Version));
    }

    private Uri Download(SyntheticCrate crate) => new(_mirror.BaseUri, $"crates/{crate.Name}/{crate.Version}/download");

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
}
