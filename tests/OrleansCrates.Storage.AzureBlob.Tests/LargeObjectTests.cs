using System.Diagnostics;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace OrleansCrates.Storage.AzureBlob.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class LargeObjectTests(AzuriteFixture azurite, ITestOutputHelper output)
{
    private const long Size = 64L * 1024 * 1024 + 12_345; // 64 MiB and a partial last block
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;

    [Fact]
    public async Task A_64_MiB_object_streams_up_and_down_with_bounded_memory()
    {
        var store = await azurite.CreateStoreAsync(); // default 4 MiB blocks
        var expected = await HashAsync(new PseudoRandomStream(Size, 42));

        // Memory is measured as bytes allocated on the managed heap while the transfer runs
        // (GC.GetTotalAllocatedBytes(precise: true), process-wide). Unlike the working set it does not depend on when
        // the GC runs or what the OS reclaims, and it counts every byte any buffering layer would need: holding the
        // object whole anywhere (a MemoryStream, a byte[], a buffered HTTP response) costs at least its 64 MiB. The
        // streamed path allocates about one block (4 MiB upload buffer, grown geometrically) plus per-request HTTP
        // overhead. Tests of other collections running in parallel allocate far less than the margin.
        const long bound = 24L * 1024 * 1024;

        var clock = Stopwatch.StartNew();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var put = await store.PutAsync("crates/big/big-1.0.0.crate", new PseudoRandomStream(Size, 42), WriteCondition.IfNotExists, _ct);
        var uploadAllocated = GC.GetTotalAllocatedBytes(precise: true) - before;
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
        output.WriteLine($"{Size:N0} bytes up and down in {clock.Elapsed.TotalSeconds:F1} s; allocated {uploadAllocated:N0} bytes uploading, {downloadAllocated:N0} downloading.");

        Assert.Equal(Size, length);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
        Assert.True(uploadAllocated < bound, $"Uploading {Size:N0} bytes allocated {uploadAllocated:N0} bytes; expected under {bound:N0} (one block plus overhead).");
        Assert.True(downloadAllocated < bound, $"Downloading {Size:N0} bytes allocated {downloadAllocated:N0} bytes; expected under {bound:N0} (streamed, not buffered).");
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
