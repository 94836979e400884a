using System.Diagnostics;
using System.Net;
using OrleansCrates.Testing;
using Xunit.Abstractions;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>
/// A cold toolchain archive streams to a waiting rustup on every silo of a cluster (two real mirror processes on a real
/// Redis, one filesystem root): the silo that does not download relays the downloading silo's bytes as they arrive,
/// by the same mechanism as crates.
/// </summary>
public sealed class ToolchainClusterStreamingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Stream_a_cold_archive_downloading_on_another_silo_reaches_the_client_before_upstream_finishes()
    {
        var ct = new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token;
        var root = Directory.CreateTempSubdirectory("oc-toolchain-relay-").FullName;
        try
        {
            var release = FakeToolchain.Create();
            await using var redis = await RedisProcess.StartAsync(ct);
            await using var upstream = await FakeDistServer.StartAsync(release.Files, ct);
            await using var cluster = await MirrorCluster.StartAsync(
                2,
                "http://127.0.0.1:9/index/", // the crate upstream is never asked here
                ClusterStorage.FileSystem(root),
                redis,
                new Dictionary<string, string> { ["Toolchains__Upstreams__0__Url"] = upstream.Url },
                ct);
            MirrorProcess a = cluster[0], b = cluster[1];
            await cluster.WaitForActiveSilosAsync(b, 2, ct);
            await cluster.WaitForActiveSilosAsync(a, 2, ct);
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(a.BaseUri, "rustup/dist/channel-rust-stable.toml"), ct)).StatusCode);

            // rustup on A starts the archive's download there (its grain is placed on A); upstream holds the second half.
            var archive = release.Archives.MaxBy(p => release.Files[p].Length)!;
            var content = release.Files[archive];
            var hold = upstream.Hold(archive);
            var viaA = http.GetByteArrayAsync(new Uri(a.BaseUri, "rustup/" + archive), ct);
            await hold.Reached.WaitAsync(TimeSpan.FromSeconds(60), ct);

            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync(new Uri(b.BaseUri, "rustup/" + archive), HttpCompletionOption.ResponseHeadersRead, ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("true", response.Headers.GetValues("X-Mirror-Streaming").Single());
            Assert.Equal(content.Length, response.Content.Headers.ContentLength);
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var first = new byte[(content.Length / 2) - 2]; // A and B each hold back the last byte they have until it verifies
            await body.ReadExactlyAsync(first, ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), ct);
            output.WriteLine($"relayed archive: {first.Length} of {content.Length} bytes at B's client {clock.Elapsed.TotalSeconds:0.00} s after its request");
            Assert.Equal(content.AsSpan(0, first.Length).ToArray(), first);
            await b.WaitForOutputAsync("Following download", ct).WaitAsync(TimeSpan.FromSeconds(10), ct);

            hold.Release();
            using var all = new MemoryStream();
            all.Write(first);
            await body.CopyToAsync(all, ct);
            Assert.Equal(content, all.ToArray());
            Assert.Equal(content, await viaA);
            Assert.Equal(1, upstream.Requests(archive));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
