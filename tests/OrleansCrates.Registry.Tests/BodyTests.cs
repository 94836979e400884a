using System.Buffers.Binary;
using System.Text;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>The binary framing of the publish body: limits from the header alone, truncation and garbage.</summary>
public sealed class BodyTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Oversized_metadata_is_413_before_a_byte_of_it_is_read()
    {
        using var h = new RegistryHarness();
        var body = new byte[4 + 16];
        BinaryPrimitives.WriteUInt32LittleEndian(body, 1024 * 1024 + 1);

        var result = await h.Registry.PublishAsync("alice", new HeaderOnlyStream(body, allowed: 4), Ct);

        Assert.Equal(new RegistryError(413, "the crate metadata is 1048577 bytes; the limit is 1048576 bytes"), result.Error);
    }

    [Fact]
    public async Task An_oversized_crate_is_413_before_a_byte_of_it_is_read()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("big", "1.0.0");
        var json = Encoding.UTF8.GetBytes(PublishBody.NewCrateJson(crate).ToJsonString());
        var body = PublishBody.Build(json, crate.CrateBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4 + json.Length), 10 * 1024 * 1024 + 1);

        var result = await h.Registry.PublishAsync("alice", new HeaderOnlyStream(body, allowed: 4 + json.Length + 4), Ct);

        Assert.Equal(new RegistryError(413, "max upload size is: 10485760 (the crate file is 10485761 bytes)"), result.Error);
        Assert.Empty(await h.PrivateKeysAsync());
    }

    [Fact]
    public async Task Configured_limits_apply()
    {
        using var h = new RegistryHarness();
        var node = h.NewNode(o => o.MaxCrateBytes = 1000);
        var crate = CrateGraph.BuildCrate("padded", "1.0.0", paddingBytes: 2000);
        var json = Encoding.UTF8.GetBytes(PublishBody.NewCrateJson(crate).ToJsonString());
        var body = PublishBody.Build(json, crate.CrateBytes);

        var result = await node.PublishAsync("alice", new HeaderOnlyStream(body, allowed: 4 + json.Length + 4), Ct);
        Assert.Equal(413, result.Error?.Status);

        var small = CrateGraph.BuildCrate("small", "1.0.0");
        var tightMetadata = h.NewNode(o => o.MaxMetadataBytes = 100);
        var refused = await tightMetadata.PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(small), small.CrateBytes), Ct);
        Assert.Equal(413, refused.Error?.Status);
    }

    [Fact]
    public async Task A_crate_just_under_the_limit_is_spooled_and_published()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("large", "1.0.0", paddingBytes: 3 * 1024 * 1024);
        var result = await h.Registry.PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crate), crate.CrateBytes), Ct);
        Assert.True(result.Succeeded, result.Error?.ToString());
        Assert.Equal(crate.Sha256, result.Published.Checksum);
    }

    public static TheoryData<string, int, string> Truncations => new()
    {
        { "empty", 0, "invalid upload request: the body ended before the metadata length" },
        { "half a length", 2, "invalid upload request: the body ended before the metadata length" },
        { "part of the metadata", 10, "invalid upload request: the body ended after 6 of " },
        { "no crate length", -6, "invalid upload request: the body ended before the crate file length" },
        { "part of the crate", -100, "invalid upload request: the body ended after " },
    };

    [Theory]
    [MemberData(nameof(Truncations))]
    public async Task A_truncated_body_is_400(string what, int cut, string detail)
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("cut", "1.0.0");
        var json = Encoding.UTF8.GetBytes(PublishBody.NewCrateJson(crate).ToJsonString());
        var body = PublishBody.Build(json, crate.CrateBytes);
        var length = cut switch
        {
            -6 => 4 + json.Length + 2,
            < 0 => body.Length + cut,
            _ => cut,
        };

        var result = await h.Registry.PublishAsync("alice", new MemoryStream(body, 0, length), Ct);

        Assert.True(result.Error?.Status == 400, $"{what}: expected 400, got {result.Error}");
        Assert.StartsWith(detail, result.Error?.Detail);
        Assert.Empty(await h.PrivateKeysAsync());
    }

    [Fact]
    public async Task Garbled_lengths_are_400()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("garbled", "1.0.0");
        var json = Encoding.UTF8.GetBytes(PublishBody.NewCrateJson(crate).ToJsonString());

        var trailing = PublishBody.Build(json, crate.CrateBytes).Concat(new byte[] { 1, 2, 3 }).ToArray();
        var result = await h.Registry.PublishAsync("alice", new MemoryStream(trailing), Ct);
        Assert.Equal(new RegistryError(400, "invalid upload request: unexpected data after the crate file"), result.Error);

        var emptyCrate = PublishBody.Build(json, []);
        result = await h.Registry.PublishAsync("alice", new MemoryStream(emptyCrate), Ct);
        Assert.Equal(new RegistryError(400, "invalid upload request: the crate file is empty"), result.Error);

        var emptyMetadata = new byte[8];
        result = await h.Registry.PublishAsync("alice", new MemoryStream(emptyMetadata), Ct);
        Assert.Equal(new RegistryError(400, "invalid upload request: the metadata is empty"), result.Error);
        Assert.Empty(await h.PrivateKeysAsync());
    }
}
