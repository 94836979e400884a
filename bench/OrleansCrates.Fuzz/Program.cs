using System.IO.Compression;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using SharpFuzz;

namespace OrleansCrates.Fuzz;

/// <summary>
/// One fuzz target per run, named by the first argument. Each target feeds AFL's input to code that must turn any
/// input into a value (a result, an error, null): an exception escaping a target is a crash AFL keeps. Run through
/// <c>bench/fuzz.sh</c>, which instruments the assemblies and starts afl-fuzz; <c>--replay FILE...</c> runs inputs
/// once, uninstrumented, to check a find.
/// </summary>
public static class Program
{
    private const long MaxUnpackedBytes = 64L * 1024 * 1024;

    private static readonly Dictionary<string, Action<byte[]>> Targets = new(StringComparer.Ordinal)
    {
        ["publish-body"] = PublishBody,
        ["tarball"] = Tarball,
        ["manifest"] = Manifest,
        ["index-line"] = IndexLines,
    };

    private static PublishSpool? _spool;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Targets.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: OrleansCrates.Fuzz {string.Join('|', Targets.Keys)} [--replay FILE...]");
            return 2;
        }

        if (args.Length > 1 && args[1] == "--replay")
        {
            foreach (var file in args.Skip(2))
            {
                target(File.ReadAllBytes(file));
                Console.WriteLine($"{file}: ok");
            }

            return 0;
        }

        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            target(buffer.ToArray());
        });
        return 0;
    }

    /// <summary>A whole publish body: the length-prefixed parts, the JSON rules, then the crate file's checks.</summary>
    private static void PublishBody(byte[] input)
    {
        var (upload, error) = PublishUpload.ReadAsync(new MemoryStream(input), Spool(), 1024 * 1024, 10 * 1024 * 1024, CancellationToken.None)
            .GetAwaiter().GetResult();
        if (upload is null)
        {
            Require(error is not null);
            return;
        }

        using (upload.CrateFile)
        {
            if (!NewCrateRules.TryParse(upload.Metadata, out var request, out _) || NewCrateRules.Validate(request!, out var crate) is not null)
            {
                return;
            }

            upload.CrateFile.Position = 0;
            CrateTarball.CheckAsync(upload.CrateFile, crate!.Name.Value, crate.Version, MaxUnpackedBytes, 100_000, CancellationToken.None)
                .GetAwaiter().GetResult();
        }
    }

    /// <summary>A tar archive (gzipped here, so AFL mutates the tar itself) checked as the crate <c>fuzz 1.0.0</c>.</summary>
    private static void Tarball(byte[] input)
    {
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(input);
        }

        compressed.Position = 0;
        CrateTarball.CheckAsync(compressed, "fuzz", "1.0.0", MaxUnpackedBytes, 100_000, CancellationToken.None).GetAwaiter().GetResult();
    }

    private static void Manifest(byte[] input)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(input);
        }
        catch (DecoderFallbackException)
        {
            return;
        }

        var (name, version, error) = CargoManifestReader.Read(text);
        Require(error is not null || name is null || name.Length <= text.Length);
        Require(error is not null || version is null || version.Length <= text.Length);
    }

    /// <summary>An index file: split into lines, each parsed as a mirror reads upstream lines and as the private registry reads its own.</summary>
    private static void IndexLines(byte[] input)
    {
        foreach (var line in IndexFile.Lines(input))
        {
            if (IndexLine.TryParse(line.Span) is { } parsed)
            {
                Require(Sha256Hex.IsValid(parsed.Checksum));
            }
        }

        _ = IndexFile.FindVersion(input, "1.0.0");
        _ = PrivateIndexLines.Versions(input);
    }

    private static PublishSpool Spool() => _spool ??= new PublishSpool(
        Microsoft.Extensions.Options.Options.Create(new PrivateRegistryOptions { SpoolPath = Path.Combine(Path.GetTempPath(), "orleanscrates-fuzz-spool") }),
        NullLogger<PublishSpool>.Instance);

    private static void Require(bool condition)
    {
        if (!condition)
        {
            throw new InvalidOperationException("a fuzz target's invariant does not hold");
        }
    }
}
