using OrleansCrates.Mirror.Streaming;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// One download's spool: small announced files in memory, everything else in a file, and the same contract either
/// way — readers follow it as it grows, never see the last byte before it verified, and break when it fails.
/// </summary>
public sealed class InFlightSpoolTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "oc-spool-" + Guid.NewGuid().ToString("N"));

    public static TheoryData<long?, int, int> Sizes => new()
    {
        { 70_000, 70_000, 0 }, // announced and small: memory, no file
        { InFlightSpool.MemoryMaxBytes, InFlightSpool.MemoryMaxBytes, 0 },
        { InFlightSpool.MemoryMaxBytes + 1L, InFlightSpool.MemoryMaxBytes + 1, 1 }, // larger: a file
        { null, 70_000, 1 }, // no length announced: a file
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Readers_follow_the_download_and_get_the_last_byte_only_once_it_verified(long? announced, int size, int files)
    {
        var spools = new InFlightSpools(_directory);
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        var spool = spools.Start("crates/ab/c/abc/abc-1.0.0.crate", announced);
        Assert.Equal(files, SpoolFiles());

        await spool.AppendAsync(bytes.AsMemory(0, size / 2), Timeout());
        await using var reader = spool.OpenReader()!;
        var read = new byte[size];
        var got = await reader.ReadAtLeastAsync(read, (size / 2) - 1, throwOnEndOfStream: true, Timeout());
        Assert.Equal((size / 2) - 1, got); // all but the last byte so far
        await spool.AppendAsync(bytes.AsMemory(size / 2), Timeout());

        // Everything but the last byte is readable; the last one waits for the verdict.
        got += await reader.ReadAtLeastAsync(read.AsMemory(got), size - 1 - got, throwOnEndOfStream: true, Timeout());
        Assert.Equal(size - 1, got);
        var last = reader.ReadAsync(read.AsMemory(got), Timeout()).AsTask();
        Assert.False(last.IsCompleted);

        spool.Complete();
        Assert.Equal(1, await last);
        Assert.Equal(0, await reader.ReadAsync(new byte[16], Timeout()));
        Assert.Equal(bytes, read);
        Assert.True(await spool.Finished);
        spools.End(spool);
        await reader.DisposeAsync();
        Assert.Equal(0, SpoolFiles());
    }

    [Fact]
    public async Task A_memory_spool_refuses_more_than_was_announced_and_a_failure_breaks_its_readers()
    {
        var spools = new InFlightSpools(_directory);
        var spool = spools.Start("crates/ab/c/abc/abc-1.0.0.crate", 10);
        await spool.AppendAsync(new byte[8], Timeout());
        await Assert.ThrowsAsync<IOException>(() => spool.AppendAsync(new byte[3], Timeout()).AsTask());

        await using var reader = spool.OpenReader()!;
        spool.Fail("sha256 mismatch");
        Assert.False(await spool.Finished);
        await Assert.ThrowsAsync<IOException>(() => reader.ReadAsync(new byte[16], Timeout()).AsTask());
        spools.End(spool);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private int SpoolFiles() => Directory.Exists(_directory) ? Directory.EnumerateFiles(_directory).Count() : 0;

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
}
