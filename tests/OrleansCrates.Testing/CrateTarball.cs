using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace OrleansCrates.Testing;

/// <summary>Writes deterministic <c>.crate</c> files: gzip of a ustar tar with entries under <c>{name}-{version}/</c>.</summary>
internal static class CrateTarball
{
    private static readonly DateTimeOffset FixedMTime = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static byte[] Create(string name, string version, IReadOnlyList<(string Path, byte[] Content)> files, int paddingBytes)
    {
        var root = $"{name}-{version}";
        using var output = new MemoryStream(paddingBytes + 4096);
        // Random padding cannot shrink: big crates use stored deflate blocks (fast, ~0.01% overhead, still a valid
        // gzip); deflating random data costs seconds and grows it by a few percent.
        var level = paddingBytes > 1_000_000 ? CompressionLevel.NoCompression : CompressionLevel.Optimal;
        using (var gzip = new GZipStream(output, level, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (path, content) in files)
            {
                WriteFile(tar, $"{root}/{path}", content);
            }

            if (paddingBytes > 0)
            {
                WriteFile(tar, $"{root}/padding.bin", Padding(name, version, paddingBytes));
            }
        }

        return output.ToArray();
    }

    private static void WriteFile(TarWriter tar, string path, byte[] content)
    {
        var entry = new UstarTarEntry(TarEntryType.RegularFile, path)
        {
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            ModificationTime = FixedMTime,
            Uid = 0,
            Gid = 0,
            DataStream = new MemoryStream(content, writable: false),
        };
        tar.WriteEntry(entry);
    }

    /// <summary>Incompressible bytes, seeded by name and version (splitmix64), so the crate is reproducible.</summary>
    private static byte[] Padding(string name, string version, int length)
    {
        var seedBytes = SHA256.HashData(Encoding.UTF8.GetBytes($"{name}\n{version}"));
        var state = BinaryPrimitives.ReadUInt64LittleEndian(seedBytes);
        var data = new byte[length];
        var span = data.AsSpan();
        while (span.Length >= 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(span, Next(ref state));
            span = span[8..];
        }

        if (span.Length > 0)
        {
            Span<byte> last = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(last, Next(ref state));
            last[..span.Length].CopyTo(span);
        }

        return data;
    }

    private static ulong Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
