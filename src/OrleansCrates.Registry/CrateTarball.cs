using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace OrleansCrates.Registry;

/// <summary>
/// Checks a <c>.crate</c> file the way cargo will unpack it: a gzip'd tar whose every entry lives under
/// <c>{name}-{version}/</c>, holding <c>{name}-{version}/Cargo.toml</c> whose <c>[package]</c> name and version are
/// the ones being published. Links, devices and <c>..</c> are refused; the unpacked size is bounded.
/// </summary>
internal static class CrateTarball
{
    private const int MaxManifestBytes = 1024 * 1024;

    public static async Task<RegistryError?> CheckAsync(Stream crateFile, string name, string version, long maxUnpackedBytes, CancellationToken cancellationToken)
    {
        var root = $"{name}-{version}";
        byte[]? manifest = null;
        try
        {
            await using var gzip = new GZipStream(crateFile, CompressionMode.Decompress, leaveOpen: true);
            await using var limited = new UnpackLimitStream(gzip, maxUnpackedBytes);
            await using var tar = new TarReader(limited, leaveOpen: true);
            while (await tar.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                if (entry.EntryType == TarEntryType.GlobalExtendedAttributes)
                {
                    continue;
                }

                var path = entry.Name;
                if (PathProblem(path, root) is { } problem)
                {
                    return RegistryError.BadRequest(problem);
                }

                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        continue;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        break;
                    case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                        return RegistryError.BadRequest($"the crate file contains a link (`{path}`); links are not allowed in crate files");
                    default:
                        return RegistryError.BadRequest($"the crate file contains `{path}` of type {entry.EntryType}; only files and folders are allowed");
                }

                if (!string.Equals(path, root + "/Cargo.toml", StringComparison.Ordinal))
                {
                    continue;
                }

                if (manifest is not null)
                {
                    return RegistryError.BadRequest($"the crate file contains `{root}/Cargo.toml` more than once");
                }

                if (entry.Length > MaxManifestBytes)
                {
                    return RegistryError.BadRequest($"`{root}/Cargo.toml` is {entry.Length} bytes; at most {MaxManifestBytes} are allowed");
                }

                manifest = await ReadManifestAsync(entry.DataStream, cancellationToken);
            }
        }
        catch (UnpackLimitStream.LimitExceededException)
        {
            return RegistryError.BadRequest($"the crate file unpacks to more than {maxUnpackedBytes} bytes");
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException or OverflowException)
        {
            return RegistryError.BadRequest($"the crate file is not a valid gzip-compressed tar archive ({e.Message})");
        }

        if (manifest is null)
        {
            return RegistryError.BadRequest($"the crate file has no `{root}/Cargo.toml`");
        }

        string manifestText;
        try
        {
            manifestText = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(manifest);
        }
        catch (DecoderFallbackException)
        {
            return RegistryError.BadRequest($"`{root}/Cargo.toml` in the crate file is not valid UTF-8");
        }

        var (manifestName, manifestVersion, error) = CargoManifestReader.Read(manifestText);
        if (error is not null)
        {
            return RegistryError.BadRequest($"`{root}/Cargo.toml` in the crate file could not be read: {error}");
        }

        if (manifestName is null || manifestVersion is null)
        {
            return RegistryError.BadRequest($"`{root}/Cargo.toml` in the crate file has no [package] {(manifestName is null ? "name" : "version")}");
        }

        if (!string.Equals(manifestName, name, StringComparison.Ordinal))
        {
            return RegistryError.BadRequest($"the crate's Cargo.toml says the package is named `{manifestName}`, but the upload is for `{name}`");
        }

        if (!string.Equals(manifestVersion, version, StringComparison.Ordinal))
        {
            return RegistryError.BadRequest($"the crate's Cargo.toml says the version is `{manifestVersion}`, but the upload is for `{version}`");
        }

        return null;
    }

    private static string? PathProblem(string path, string root)
    {
        if (path.Length == 0 || path[0] == '/')
        {
            return $"the crate file contains an entry with an absolute or empty path (`{path}`)";
        }

        var segments = path.Split('/');
        if (!string.Equals(segments[0], root, StringComparison.Ordinal))
        {
            return $"the crate file contains `{path}`, outside `{root}/`; every entry must live under `{root}/`";
        }

        foreach (var segment in segments)
        {
            if (segment is "." or ".." || segment.Contains('\0'))
            {
                return $"the crate file contains an entry with an invalid path (`{path}`)";
            }
        }

        return null;
    }

    private static async Task<byte[]> ReadManifestAsync(Stream? data, CancellationToken cancellationToken)
    {
        if (data is null)
        {
            return [];
        }

        using var buffer = new MemoryStream();
        await data.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    /// <summary>Counts decompressed bytes and stops at a limit (a gzip bomb ends here, not in memory or on disk).</summary>
    private sealed class UnpackLimitStream(Stream inner, long limit) : Stream
    {
        private long _total;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _total;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _total += read;
            return _total > limit ? throw new LimitExceededException() : read;
        }

        internal sealed class LimitExceededException : Exception;
    }
}
