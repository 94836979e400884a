using System.Diagnostics;
using System.Security.Cryptography;
using OrleansCrates.Mirror;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

public sealed class FailoverDownloadTests
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();

    [Theory]
    [InlineData(FaultKind.Status500, UpstreamState.Down)]
    [InlineData(FaultKind.Status429, UpstreamState.Down)]
    [InlineData(FaultKind.Reset, UpstreamState.Down)]
    [InlineData(FaultKind.Truncated, UpstreamState.Down)]
    [InlineData(FaultKind.Status404, UpstreamState.Up)]
    [InlineData(FaultKind.WrongBytes, UpstreamState.Up)]
    [InlineData(FaultKind.HtmlErrorPage, UpstreamState.Up)]
    [InlineData(FaultKind.EmptyBody, UpstreamState.Up)]
    public async Task A_bad_download_from_the_primary_is_fetched_from_the_secondary_and_verified(FaultKind fault, UpstreamState primaryAfter)
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var (primary, secondary) = (mirror.Fakes[0], mirror.Fakes[1]);
        var crate = Graph.Get("abcd", "2.0.1");
        primary.AddFault(new FaultRule { PathContains = "/download", Kind = fault, RetryAfterSeconds = 1 });

        await using (var result = await mirror.FileAsync(crate.Name, crate.Version))
        {
            Assert.Equal(CrateFileStatus.Found, result.Status);
            using var copy = new MemoryStream();
            await result.File!.Content.CopyToAsync(copy);
            Assert.Equal(crate.CrateBytes, copy.ToArray());
        }

        Assert.Equal(1, primary.Downloads(crate.Name, crate.Version));
        Assert.Equal(1, secondary.Downloads(crate.Name, crate.Version));
        var stored = Assert.Single(mirror.StoredFiles("crates"));
        Assert.Equal(crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(stored))));
        Assert.Empty(mirror.TempFiles());
        var health = mirror.Health(0);
        Assert.Equal(primaryAfter, health.State); // a missing or wrong file says nothing about the upstream's health
        Assert.NotNull(health.LastError);
    }

    [Theory]
    [InlineData(FaultKind.Slow)]
    [InlineData(FaultKind.Stall)]
    public async Task A_download_slower_than_the_primarys_timeout_comes_from_the_secondary_within_that_timeout(FaultKind fault)
    {
        await using var mirror = FailoverHarness.Create(
            await FailoverHarness.StartUpstreamsAsync(Graph, 2),
            o => o.Upstreams[0].Timeout = TimeSpan.FromSeconds(1));
        var crate = Graph.Get("MixedCase", "1.1.0");
        await mirror.IndexAsync(crate.Name); // from the primary, which answers index requests quickly
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/download", Kind = fault, Delay = TimeSpan.FromSeconds(30) });

        var clock = Stopwatch.StartNew();
        await using var result = await mirror.FileAsync(crate.Name, crate.Version);

        Assert.Equal(CrateFileStatus.Found, result.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"expected the secondary's file about 1 s after the primary's timeout, took {clock.Elapsed}");
        Assert.Equal(crate.CrateBytes.Length, result.File!.Length);
        Assert.Equal(UpstreamState.Down, mirror.Health(0).State);
        Assert.Equal(1, mirror.Fakes[1].Downloads(crate.Name, crate.Version));
    }

    [Fact]
    public async Task Bytes_that_match_the_checksum_nowhere_are_never_stored()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 3));
        var crate = Graph.Get("abc", "1.1.0");
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.WrongBytes });
        mirror.Fakes[1].AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.HtmlErrorPage });
        mirror.Fakes[2].AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Status404 });

        await using (var result = await mirror.FileAsync(crate.Name, crate.Version))
        {
            Assert.Equal(CrateFileStatus.BadUpstreamFile, result.Status);
            Assert.Null(result.File);
            foreach (var name in FailoverHarness.Names)
            {
                Assert.Contains(name + ": ", result.Error, StringComparison.Ordinal);
            }
        }

        Assert.Empty(mirror.StoredFiles("crates"));
        Assert.Empty(mirror.TempFiles());
        Assert.All(mirror.Fakes, f => Assert.Equal(1, f.Downloads(crate.Name, crate.Version)));

        mirror.Fakes[1].ClearFaults();
        await using var retried = await mirror.FileAsync(crate.Name, crate.Version);
        Assert.Equal(CrateFileStatus.Found, retried.Status);
    }

    [Fact]
    public async Task Every_upstream_unreachable_is_a_retryable_failure_not_a_bad_file()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var crate = Graph.Get("abc", "1.1.0");
        await mirror.IndexAsync(crate.Name);
        mirror.Fakes[0].AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Status404 });
        mirror.Fakes[1].AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Status503, RetryAfterSeconds = 7 });

        await using var result = await mirror.FileAsync(crate.Name, crate.Version);

        Assert.Equal(CrateFileStatus.UpstreamUnavailable, result.Status);
        Assert.Equal(TimeSpan.FromSeconds(7), result.RetryAfter); // the secondary's Retry-After is passed on
    }

    [Fact]
    public async Task A_healthy_primary_serves_and_the_secondary_is_never_asked()
    {
        await using var mirror = FailoverHarness.Create(await FailoverHarness.StartUpstreamsAsync(Graph, 2));
        var crate = Graph.Get("build-meta", "1.2.0+build.7");

        await using var result = await mirror.FileAsync(crate.Name, crate.Version);

        Assert.Equal(CrateFileStatus.Found, result.Status);
        Assert.Equal(1, mirror.Fakes[0].Downloads(crate.Name, crate.Version));
        Assert.Equal(0, mirror.Fakes[1].TotalRequests);
        Assert.Equal(UpstreamState.Up, mirror.Health(0).State);
        Assert.Equal(UpstreamState.Unknown, mirror.Health(1).State);
    }
}
