using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace OrleansCrates.Registry;

/// <summary>
/// Cargo's publish body taken apart: <c>u32 LE json_len | JSON | u32 LE crate_len | crate bytes</c>. The metadata is
/// held in memory (bounded by <see cref="PrivateRegistryOptions.MaxMetadataBytes"/>); the crate file is spooled to a
/// file in the <see cref="PublishSpool"/> that disappears on dispose, hashed on the way.
/// </summary>
internal sealed class PublishUpload : IAsyncDisposable
{
    private const int CopyBufferSize = 81920;

    private PublishUpload(byte[] metadata, FileStream crateFile, long crateLength, string sha256)
    {
        Metadata = metadata;
        CrateFile = crateFile;
        CrateLength = crateLength;
        Sha256 = sha256;
    }

    public byte[] Metadata { get; }

    /// <summary>The spooled crate file (deleted on dispose). Seek to 0 before each read.</summary>
    public FileStream CrateFile { get; }

    public long CrateLength { get; }

    /// <summary>Lowercase hex sha256 of the crate file.</summary>
    public string Sha256 { get; }

    public ValueTask DisposeAsync() => CrateFile.DisposeAsync();

    /// <summary>
    /// Reads the body. Each length is checked against its limit before a byte of what it announces is read, so an
    /// oversized upload is refused (413) after at most 8 bytes of header past the metadata.
    /// </summary>
    public static async Task<(PublishUpload? Upload, RegistryError? Error)> ReadAsync(
        Stream body, PublishSpool spool, long maxMetadataBytes, long maxCrateBytes, CancellationToken cancellationToken)
    {
        var lengthBuffer = new byte[4];
        if (await body.ReadAtLeastAsync(lengthBuffer, 4, throwOnEndOfStream: false, cancellationToken) < 4)
        {
            return (null, RegistryError.BadRequest("invalid upload request: the body ended before the metadata length"));
        }

        var metadataLength = BinaryPrimitives.ReadUInt32LittleEndian(lengthBuffer);
        if (metadataLength > maxMetadataBytes)
        {
            return (null, RegistryError.TooLarge($"the crate metadata is {metadataLength} bytes; the limit is {maxMetadataBytes} bytes"));
        }

        if (metadataLength == 0)
        {
            return (null, RegistryError.BadRequest("invalid upload request: the metadata is empty"));
        }

        var metadata = new byte[metadataLength];
        var read = await body.ReadAtLeastAsync(metadata, metadata.Length, throwOnEndOfStream: false, cancellationToken);
        if (read < metadata.Length)
        {
            return (null, RegistryError.BadRequest($"invalid upload request: the body ended after {read} of {metadataLength} metadata bytes"));
        }

        if (await body.ReadAtLeastAsync(lengthBuffer, 4, throwOnEndOfStream: false, cancellationToken) < 4)
        {
            return (null, RegistryError.BadRequest("invalid upload request: the body ended before the crate file length"));
        }

        var crateLength = BinaryPrimitives.ReadUInt32LittleEndian(lengthBuffer);
        if (crateLength > maxCrateBytes)
        {
            return (null, RegistryError.TooLarge($"max upload size is: {maxCrateBytes} (the crate file is {crateLength} bytes)"));
        }

        if (crateLength == 0)
        {
            return (null, RegistryError.BadRequest("invalid upload request: the crate file is empty"));
        }

        var file = spool.CreateFile();
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            long copied = 0;
            try
            {
                while (copied < crateLength)
                {
                    var chunk = (int)Math.Min(buffer.Length, crateLength - copied);
                    var n = await body.ReadAsync(buffer.AsMemory(0, chunk), cancellationToken);
                    if (n == 0)
                    {
                        await file.DisposeAsync();
                        return (null, RegistryError.BadRequest($"invalid upload request: the body ended after {copied} of {crateLength} crate file bytes"));
                    }

                    hash.AppendData(buffer, 0, n);
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                    copied += n;
                }

                // Cargo sends exactly the announced lengths; anything more means the lengths are wrong.
                if (await body.ReadAsync(buffer.AsMemory(0, 1), cancellationToken) > 0)
                {
                    await file.DisposeAsync();
                    return (null, RegistryError.BadRequest("invalid upload request: unexpected data after the crate file"));
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            await file.FlushAsync(cancellationToken);
            return (new PublishUpload(metadata, file, crateLength, Convert.ToHexStringLower(hash.GetHashAndReset())), null);
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }
}
