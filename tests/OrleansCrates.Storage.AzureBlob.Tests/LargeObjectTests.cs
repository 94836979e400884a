using System.Diagnostics;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace OrleansCrates.Storage.AzureBlob.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class LargeObjectTests(AzuriteFixture azurite, ITestOutputHelper output)
{
    // 64 MiB and a partial last block; bench/azure-blob-memory.sh runs it with 400 MB (ORLEANSCRATES_BIG_OBJECT_MB=400).
    private static readonly long Size = (long.TryParse(Environment.GetEnvironmentVariable("ORLEANSCRATES_BIG_OBJECT_MB"), out var mb) ? mb : 64) * 1024 * 1024 + 12_345;
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(10)).Token;

    [Fact]
    public async Task A_large_object_streams_up_and_down_with_bounded_memory()
    {
        var store = await azurite.CreateStoreAsync(); // default 4 MiB blocks, 2 staged at once
        var expected = await HashAsync(new PseudoRandomStream(Size, 42));

        // Memory is measured as bytes allocated on the managed heap while the transfer runs
        // (GC.GetTotalAllocatedBytes(precise: true), process-wide). Unlike the working set it does not depend on when
        // the GC runs or what the OS reclaims, and it counts every byte any buffering layer would need: holding the
        // object whole anywhere (a MemoryStream, a byte[], a buffered HTTP response) costs at least its size (64 MiB
        // by default). The streamed path holds at most (UploadConcurrency + 1) blocks = 12 MiB of block buffers, taken
        // from the array pool, and each Put Block request leaves about 100 KiB of short-lived garbage in the SDK and
        // HttpClient (measured: 22 MiB allocated for a 400 MB upload, 100 requests). The bound is 12 MiB of buffers +
        // 8 MiB + 128 KiB per block: 22 MiB for 64 MiB, a fraction of the object for any size. Tests of other
        // collections running in parallel allocate far less than the margin.
        var blocks = (Size + AzureBlobStorageOptions.DefaultBlockSize - 1) / AzureBlobStorageOptions.DefaultBlockSize;
        var bound = ((AzureBlobStorageOptions.DefaultUploadConcurrency + 1L) * AzureBlobStorageOptions.DefaultBlockSize) + (8L * 1024 * 1024) + (blocks * 128 * 1024);

        // One-time costs per process (JIT, the HTTP connection, the array pool's first block buffers) are paid by a
        // 3-block upload first; what is measured below is what every further large upload costs.
        await store.PutAsync("warm-up", new PseudoRandomStream((3L * AzureBlobStorageOptions.DefaultBlockSize) + 1, 7), WriteCondition.IfNotExists, _ct);

        var clock = Stopwatch.StartNew();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var rssBefore = Rss();
        long peakRss = 0;
        using var sampling = new Timer(_ => InterlockedMax(ref peakRss, Rss()), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(20));
        var put = await store.PutAsync("crates/big/big-1.0.0.crate", new PseudoRandomStream(Size, 42), WriteCondition.IfNotExists, _ct);
        var uploadAllocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        var uploadPeakRss = Interlocked.Exchange(ref peakRss, 0);
        var uploadSeconds = clock.Elapsed.TotalSeconds;
        Assert.Equal(PutStatus.Written, put.Status);

        before = GC.GetTotalAllocatedBytes(precise: true);
        byte[] actual;
        long length;
        await using (var read = await store.OpenReadOrNullAsync("crates/big/big-1.0.0.crate", _ct))
        {
            Assert.NotNull(read);
            length = read.Length;
            Assert.Equal(put.ETag, read.ETag);
            actual = await HashAsync(read.Content);
        }

        var downloadAllocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        var downloadPeakRss = Interlocked.Exchange(ref peakRss, 0);
        output.WriteLine(
            $"{Size:N0} bytes: up {uploadSeconds:F1} s, down {clock.Elapsed.TotalSeconds - uploadSeconds:F1} s; managed allocation {uploadAllocated / 1048576.0:F1} MiB uploading, " +
            $"{downloadAllocated / 1048576.0:F1} MiB downloading; test host RSS {rssBefore / 1048576.0:F0} MiB before, peak {uploadPeakRss / 1048576.0:F0} MiB uploading, " +
            $"{downloadPeakRss / 1048576.0:F0} MiB downloading (sampled every 20 ms; the whole test host).");

        Assert.Equal(Size, length);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
        Assert.True(uploadAllocated < bound, $"Uploading {Size:N0} bytes allocated {uploadAllocated:N0} bytes; expected under {bound:N0} (pooled block buffers plus per-request overhead).");
        Assert.True(downloadAllocated < bound, $"Downloading {Size:N0} bytes allocated {downloadAllocated:N0} bytes; expected under {bound:N0} (streamed, not buffered).");
    }

    /// <summary>This process's resident set (VmRSS from /proc/self/status, Linux), in bytes; 0 elsewhere.</summary>
    private static long Rss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long current;
        while (value > (current = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private async Task<byte[]> HashAsync(Stream content)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        int read;
        while ((read = await content.ReadAsync(buffer, _ct)) > 0)
        {
            sha.AppendData(buffer, 0, read);
        }

        return sha.GetHashAndReset();
    }
}
