using System.Text;
using OrleansCrates.Mirror;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// Stored index documents are cache data written without waiting for the disk, so a crash can leave one short or torn:
/// the body's sha256 in the header makes such a document read as absent (fetched again), never served.
/// </summary>
public sealed class StoredIndexTests
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        "{\"name\":\"abc\",\"vers\":\"1.0.0\",\"deps\":[],\"cksum\":\"" + new string('0', 64) + "\",\"features\":{}}\n" +
        "{\"name\":\"abc\",\"vers\":\"1.1.0\",\"deps\":[],\"cksum\":\"" + new string('1', 64) + "\",\"features\":{}}\n");

    private static readonly StoredIndex Index = new(Body, "\"etag\"", "Tue, 01 Dec 2026 10:00:00 GMT", new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public void A_whole_document_reads_back_as_written()
    {
        var read = StoredIndex.TryDeserialize(Index.Serialize());

        Assert.NotNull(read);
        Assert.Equal(Body, read.Body);
        Assert.Equal(Index.UpstreamETag, read.UpstreamETag);
        Assert.Equal(Index.FetchedAt, read.FetchedAt);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    [InlineData(100)]
    public void A_document_cut_short_reads_as_absent(int missing)
    {
        var written = Index.Serialize();

        Assert.Null(StoredIndex.TryDeserialize(written[..^missing]));
    }

    [Fact]
    public void A_document_with_a_changed_body_byte_reads_as_absent()
    {
        var written = Index.Serialize();
        written[^10] ^= 0x20;

        Assert.Null(StoredIndex.TryDeserialize(written));
    }

    [Fact]
    public void A_document_the_disk_left_as_zeros_or_empty_reads_as_absent()
    {
        Assert.Null(StoredIndex.TryDeserialize([]));
        Assert.Null(StoredIndex.TryDeserialize(new byte[Index.Serialize().Length]));
    }

    [Fact]
    public void A_document_written_before_the_sha256_was_kept_is_read_as_it_is()
    {
        var legacy = Encoding.UTF8.GetBytes("{\"v\":1,\"etag\":\"\\\"etag\\\"\",\"lastModified\":null,\"fetchedAt\":\"2026-12-01T10:00:00+00:00\"}\n").Concat(Body).ToArray();

        var read = StoredIndex.TryDeserialize(legacy);

        Assert.NotNull(read);
        Assert.Equal(Body, read.Body);
        Assert.Equal("\"etag\"", read.UpstreamETag);
    }
}
