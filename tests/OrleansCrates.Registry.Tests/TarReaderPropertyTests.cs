using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using CsCheck;
using OrleansCrates.Testing.Properties;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// Property tests for <see cref="CrateTarReader"/> and <see cref="CrateTarball"/>: archives written by .NET's own
/// TarWriter in every format read back entry for entry, paths normalise the way cargo's unpacker resolves them, and
/// no corruption of a valid crate makes the check throw or accept something it should not.
/// </summary>
public sealed class TarReaderPropertyTests
{
    private static readonly Gen<string> Segment = Gen.Select(
        Generators.Chars("a-zA-Z0-9_"), Generators.Chars("a-zA-Z0-9_.-").Array[0, 40],
        (first, rest) => first + new string(rest));

    private static readonly Gen<string> RelativePath = Segment.Array[1, 6].Select(s => string.Join('/', s));

    private static readonly Gen<TarEntryFormat> Format = Generators.OneOf(TarEntryFormat.Ustar, TarEntryFormat.Pax, TarEntryFormat.Gnu, TarEntryFormat.V7);

    /// <summary>Entries with distinct paths (some long enough for GNU long names or PAX) and small random contents.</summary>
    private static readonly Gen<(string Path, byte[] Data)[]> Entries =
        Gen.Select(RelativePath, Gen.Byte.Array[0, 700]).Array[1, 12]
            .Select(e => e.DistinctBy(x => x.Item1).Select(x => ("root/" + x.Item1, x.Item2)).ToArray());

    [Fact]
    public void Archives_in_every_format_read_back_entry_for_entry() =>
        Gen.Select(Entries, Format).Sample((entries, format) =>
        {
            byte[] archive;
            try
            {
                archive = Write(format, entries);
            }
            catch (ArgumentException) when (format is TarEntryFormat.V7 or TarEntryFormat.Ustar)
            {
                return; // a path too long for the format (V7: 100 bytes; ustar: name and prefix split at a '/')
            }

            var reader = new CrateTarReader(new MemoryStream(archive));
            foreach (var (path, data) in entries)
            {
                var entry = reader.NextAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
                Assert.NotNull(entry);
                Assert.Equal(path, entry.Value.Path);
                Assert.True(entry.Value.IsFile);
                Assert.Equal(data.Length, entry.Value.Size);
                var read = new byte[data.Length + 10];
                var total = 0;
                int n;
                while ((n = reader.ReadDataAsync(read.AsMemory(total), CancellationToken.None).AsTask().GetAwaiter().GetResult()) > 0)
                {
                    total += n;
                }

                Assert.Equal(data, read[..total]);
            }

            Assert.Null(reader.NextAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult());
        }, iter: 200);

    [Fact]
    public void Spellings_of_one_path_normalise_to_the_same_path_and_normalising_is_idempotent() =>
        Gen.Select(Segment.Array[1, 5], Gen.Int[0, 3].Array[6], Gen.Bool).Sample((segments, noise, trailing) =>
        {
            var plain = "root/" + string.Join('/', segments);
            var noisy = new StringBuilder(noise[0] % 2 == 0 ? "" : "./").Append("root");
            for (var i = 0; i < segments.Length; i++)
            {
                noisy.Append(noise[(i + 1) % noise.Length] switch { 0 => "/", 1 => "//", 2 => "/./", _ => "/.//" }).Append(segments[i]);
            }

            if (trailing)
            {
                noisy.Append('/');
            }

            Assert.Null(CrateTarball.NormalizePath(noisy.ToString(), "root", out var normalised));
            Assert.Equal(plain, normalised);
            Assert.Null(CrateTarball.NormalizePath(normalised, "root", out var again));
            Assert.Equal(normalised, again);
        });

    [Fact]
    public void A_path_with_a_parent_segment_backslash_or_absolute_start_is_refused_wherever_it_is() =>
        Gen.Select(Segment.Array[1, 5], Gen.Int[0, 10], Generators.OneOf("..", "a\\b", "\0")).Sample((segments, at, bad) =>
        {
            var list = segments.ToList();
            list.Insert(at % (list.Count + 1), bad);
            Assert.NotNull(CrateTarball.NormalizePath("root/" + string.Join('/', list), "root", out _));
            Assert.NotNull(CrateTarball.NormalizePath("/root/" + string.Join('/', segments), "root", out _));
        });

    [Fact]
    public void Any_corruption_of_a_valid_crate_is_answered_never_thrown_and_a_duplicate_is_never_accepted() =>
        Gen.Select(Format, Gen.Int[0, 100_000].Array[1, 8], Gen.Byte.Array[1, 8], Gen.Bool).Sample((format, positions, values, duplicate) =>
        {
            (string, byte[])[] entries =
            [
                ("prop-1.0.0/Cargo.toml", Encoding.UTF8.GetBytes("[package]\nname = \"prop\"\nversion = \"1.0.0\"\n")),
                ("prop-1.0.0/src/lib.rs", Encoding.UTF8.GetBytes("pub fn f() {}\n")),
                .. duplicate ? [("prop-1.0.0/./src//lib.rs", Encoding.UTF8.GetBytes("// twice"))] : Array.Empty<(string, byte[])>(),
            ];
            var tar = Write(format == TarEntryFormat.V7 ? TarEntryFormat.Ustar : format, entries);
            for (var i = 0; i < positions.Length; i++)
            {
                tar[positions[i] % tar.Length] = values[i % values.Length];
            }

            var error = CrateTarball.CheckAsync(new MemoryStream(Gzip(tar)), "prop", "1.0.0", 16 * 1024 * 1024, 1000, CancellationToken.None)
                .GetAwaiter().GetResult();
            if (duplicate && error is null)
            {
                // Accepted: then the corruption must have undone the duplicate (a PAX record's path carries no
                // checksum, so a changed byte there names another file), as a standard reader sees the archive.
                Assert.False(HoldsDuplicatePaths(tar), "a crate with a duplicate path was accepted");
            }
        }, iter: 500);

    /// <summary>Whether .NET's own tar reader sees two entries that normalise to one path (false if it cannot read the archive).</summary>
    private static bool HoldsDuplicatePaths(byte[] tar)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            using var reader = new TarReader(new MemoryStream(tar));
            while (reader.GetNextEntry() is { } entry)
            {
                if (CrateTarball.NormalizePath(entry.Name, "prop-1.0.0", out var path) is null && !seen.Add(path))
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentException or EndOfStreamException)
        {
            return false;
        }

        return false;
    }

    [Fact]
    public async Task More_entries_than_allowed_are_refused()
    {
        var entries = Enumerable.Range(0, 11).Select(i => ($"prop-1.0.0/f{i}.rs", Array.Empty<byte>()))
            .Append(("prop-1.0.0/Cargo.toml", Encoding.UTF8.GetBytes("[package]\nname = \"prop\"\nversion = \"1.0.0\"\n"))).ToArray();
        var crate = Gzip(Write(TarEntryFormat.Pax, entries));

        Assert.Null(await CrateTarball.CheckAsync(new MemoryStream(crate), "prop", "1.0.0", 1 << 20, 12, CancellationToken.None));
        var error = await CrateTarball.CheckAsync(new MemoryStream(crate), "prop", "1.0.0", 1 << 20, 11, CancellationToken.None);
        Assert.Equal("the crate file has more than 11 entries", error?.Detail);
    }

    private static byte[] Write(TarEntryFormat format, IEnumerable<(string Path, byte[] Data)> entries)
    {
        var output = new MemoryStream();
        using (var writer = new TarWriter(output, format, leaveOpen: true))
        {
            foreach (var (path, data) in entries)
            {
                TarEntry entry = format switch
                {
                    TarEntryFormat.V7 => new V7TarEntry(TarEntryType.V7RegularFile, path),
                    TarEntryFormat.Ustar => new UstarTarEntry(TarEntryType.RegularFile, path),
                    TarEntryFormat.Pax => new PaxTarEntry(TarEntryType.RegularFile, path),
                    _ => new GnuTarEntry(TarEntryType.RegularFile, path),
                };
                entry.DataStream = new MemoryStream(data);
                writer.WriteEntry(entry);
            }
        }

        return output.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }
}
