using OrleansCrates.Storage;

namespace OrleansCrates.Storage.Tests;

/// <summary>The hot layer's memory files: the bytes given, sealed against change, alive while anyone reads them.</summary>
public sealed class SealedMemoryFileTests
{
    [Fact]
    public async Task A_memory_file_reads_back_its_bytes_and_refuses_to_change()
    {
        var bytes = Enumerable.Range(0, 50_000).Select(i => (byte)(i % 251)).ToArray();
        using var file = SealedMemoryFile.CreateOrNull("test", bytes);
        Assert.NotNull(file);

        await using var stream = SealedMemoryFile.Open(file, bytes.Length)!;
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);

        Assert.Equal(bytes, copy.ToArray());
        Assert.Equal(bytes.Length, RandomAccess.GetLength(file));
        Assert.ThrowsAny<Exception>(() => RandomAccess.Write(file, new byte[] { 1 }, 0)); // sealed (and opened read-only by nobody else)
    }

    [Fact]
    public void A_reader_keeps_the_file_after_its_owner_lets_go_and_none_opens_after_the_last()
    {
        var file = SealedMemoryFile.CreateOrNull("test", new byte[4096])!;
        var reader = SealedMemoryFile.Open(file, 4096)!;

        file.Dispose();
        var afterOwner = (file.IsClosed, reader.Read(new byte[10]));
        reader.Dispose();

        Assert.Equal((false, 10), afterOwner);
        Assert.True(file.IsClosed);
        Assert.Null(SealedMemoryFile.Open(file, 4096));
    }
}
