using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace OrleansCrates.Registry;

/// <summary>
/// Checks a <c>.crate</c> file the way cargo will unpack it: a gzip'd tar whose every entry lives under
/// <c>{name}-{version}/</c>, holding <c>{name}-{version}/Cargo.toml</c> whose <c>[package]</c> name and version are
/// the ones being published. Links, devices and <c>..</c> are refused; the unpacked size is bounded.
/// </summary>
internal static class CrateTarball
{
    public const int MaxManifestBytes = 1024 * 1024;

    public static async Task<RegistryError?> CheckAsync(
        Stream crateFile, string name, string version, long maxUnpackedBytes, int maxEntries, CancellationToken cancellationToken)
    {
        var root = $"{name}-{version}";
        var manifestPath = root + "/Cargo.toml";
        byte[]? manifest = null;

        // What each normalised path was (true: a folder), keyed by 128 bits of its SHA-256: memory per entry is fixed
        // whatever the path's length, and the count is bounded by maxEntries.
        var seen = new Dictionary<UInt128, bool>();
        try
        {
            await using var gzip = new GZipStream(crateFile, CompressionMode.Decompress, leaveOpen: true);
            await using var limited = new UnpackLimitStream(gzip, maxUnpackedBytes);
            var tar = new CrateTarReader(limited);
            while (await tar.NextAsync(cancellationToken) is { } entry)
            {
                if (NormalizePath(entry.Path, root, out var path) is { } problem)
                {
                    return RegistryError.BadRequest(problem);
                }

                if (entry.IsLink)
                {
                    return RegistryError.BadRequest($"the crate file contains a link (`{path}`); links are not allowed in crate files");
                }

                if (!entry.IsFile && !entry.IsDirectory)
                {
                    return RegistryError.BadRequest($"the crate file contains `{path}` of type {TypeName(entry.TypeFlag)}; only files and folders are allowed");
                }

                if (seen.Count >= maxEntries)
                {
                    return RegistryError.BadRequest($"the crate file has more than {maxEntries} entries");
                }

                var key = PathKey(path);
                if (seen.TryGetValue(key, out var wasDirectory) && !(wasDirectory && entry.IsDirectory))
                {
                    return RegistryError.BadRequest($"the crate file contains `{path}` more than once (paths are compared after removing `.` and empty segments)");
                }

                seen[key] = entry.IsDirectory;
                if (!entry.IsFile || !string.Equals(path, manifestPath, StringComparison.Ordinal))
                {
                    continue;
                }

                if (entry.Size > MaxManifestBytes)
                {
                    return RegistryError.BadRequest($"`{manifestPath}` is {entry.Size} bytes; at most {MaxManifestBytes} are allowed");
                }

                manifest = await ReadManifestAsync(tar, (int)entry.Size, cancellationToken);
            }
        }
        catch (UnpackLimitStream.LimitExceededException)
        {
            return RegistryError.BadRequest($"the crate file unpacks to more than {maxUnpackedBytes} bytes");
        }
        catch (InvalidDataException e)
        {
            return RegistryError.BadRequest($"the crate file is not a valid gzip-compressed tar archive ({e.Message})");
        }

        if (manifest is null)
        {
            return RegistryError.BadRequest($"the crate file has no `{manifestPath}`");
        }

        string manifestText;
        try
        {
            manifestText = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(manifest);
        }
        catch (DecoderFallbackException)
        {
            return RegistryError.BadRequest($"`{manifestPath}` in the crate file is not valid UTF-8");
        }

        var (manifestName, manifestVersion, error) = CargoManifestReader.Read(manifestText);
        if (error is not null)
        {
            return RegistryError.BadRequest($"`{manifestPath}` in the crate file could not be read: {error}");
        }

        if (manifestName is null || manifestVersion is null)
        {
            return RegistryError.BadRequest($"`{manifestPath}` in the crate file has no [package] {(manifestName is null ? "name" : "version")}");
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

    /// <summary>
    /// The path as cargo's unpacker resolves it: empty and <c>.</c> segments dropped (<c>a//b</c>, <c>./a</c>,
    /// <c>a/./b</c> and <c>a/b/</c> are all <c>a/b</c>), so the manifest and duplicate checks see what lands on disk.
    /// Absolute paths, <c>..</c>, backslashes, NULs and paths outside <c>{root}/</c> are refused.
    /// </summary>
    internal static string? NormalizePath(string raw, string root, out string path)
    {
        path = raw;
        if (raw.Length == 0 || raw[0] == '/')
        {
            return $"the crate file contains an entry with an absolute or empty path (`{Shorten(raw)}`)";
        }

        if (raw.AsSpan().IndexOfAny('\\', '\0') >= 0)
        {
            return $"the crate file contains an entry with an invalid path (`{Shorten(raw)}`)";
        }

        var builder = new StringBuilder(raw.Length);
        foreach (var segment in raw.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == "..")
            {
                return $"the crate file contains an entry with an invalid path (`{Shorten(raw)}`)";
            }

            if (builder.Length > 0)
            {
                builder.Append('/');
            }

            builder.Append(segment);
        }

        path = builder.ToString();
        var first = path.IndexOf('/', StringComparison.Ordinal);
        if (!string.Equals(first < 0 ? path : path[..first], root, StringComparison.Ordinal))
        {
            return $"the crate file contains `{Shorten(raw)}`, outside `{root}/`; every entry must live under `{root}/`";
        }

        return null;
    }

    private static string TypeName(char flag) => flag switch
    {
        '3' => "CharacterDevice",
        '4' => "BlockDevice",
        '6' => "Fifo",
        'S' => "SparseFile",
        _ => $"'{(char.IsControl(flag) ? '?' : flag)}'",
    };

    private static UInt128 PathKey(string path)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(path), hash);
        return BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    private static string Shorten(string value) => value.Length <= 200 ? value : value[..200] + "…";

    private static async Task<byte[]> ReadManifestAsync(CrateTarReader tar, int length, CancellationToken cancellationToken)
    {
        var manifest = new byte[length];
        var read = 0;
        while (read < length)
        {
            read += await tar.ReadDataAsync(manifest.AsMemory(read), cancellationToken);
        }

        return manifest;
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
