using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using OrleansCrates.Storage;

namespace OrleansCrates.Toolchains;

/// <summary>One stored toolchain file that does not hold up, and why.</summary>
public sealed record ToolchainProblem(string Key, string Problem);

/// <summary>What a toolchain verification found: how many manifests and files it checked, and the problems.</summary>
public sealed record ToolchainVerification(int Manifests, int Files, IReadOnlyList<ToolchainProblem> Problems);

/// <summary>
/// Checks every stored toolchain file against what publishes it: each record is readable; each manifest matches its
/// stored <c>.sha256</c> and is a channel manifest; each archive matches the hash a held manifest publishes for it (one
/// no held manifest lists is reported); each archive's <c>.sha256</c> is a sha256 file naming it with that hash, each
/// <c>.asc</c> an armoured signature of a listed archive; each rustup binary record's blob is there, and each blob
/// matches the hash it is stored under. Archives are checked a date at a time, against the manifests under that date
/// (where the mirror keeps every manifest it stored) and the top-level ones, so memory stays bounded by one date's
/// manifests. Streams every file.
/// </summary>
public sealed class ToolchainVerifier(IObjectStore store, IOptions<ToolchainOptions> options)
{
    public async Task<ToolchainVerification> VerifyAsync(IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var problems = new List<ToolchainProblem>();
        var manifests = 0;
        var files = 0;

        // Records: readable, manifests against their .sha256, binary records against their blobs. Manifests are only
        // noted by date here; their archive lists are read a date at a time below.
        var manifestsByDate = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var topLevel = new List<string>();
        await foreach (var doc in store.ListAsync(ToolchainPath.DocsRoot, cancellationToken))
        {
            progress?.Report(doc.Key);
            if (await ReadRecordAsync(doc, limits, problems, cancellationToken) is not { } record)
            {
                continue;
            }

            if (ToolchainPath.ManifestOfKey(doc.Key) is { } manifest)
            {
                manifests++;
                var actual = Convert.ToHexStringLower(SHA256.HashData(record.Document.Body.Span));
                if (actual != record.Document.PublishedSha256)
                {
                    problems.Add(new ToolchainProblem(doc.Key, $"manifest sha256 {actual} does not match its stored .sha256 {record.Document.PublishedSha256 ?? "(none)"}"));
                }
                else if (ChannelManifest.TryParse(record.Document.Body.Span, limits.MaxManifestBytes, out var error) is null)
                {
                    problems.Add(new ToolchainProblem(doc.Key, $"not a channel manifest: {error}"));
                }
                else if (manifest.Date is { } date)
                {
                    Add(manifestsByDate, date, doc.Key);
                }
                else
                {
                    topLevel.Add(doc.Key);
                }
            }
            else if (ToolchainPath.TryParse(doc.Key[ToolchainPath.DocsRoot.Length..], out var path) && path.Kind == ToolchainFileKind.RustupBinary)
            {
                if (record.Document.PublishedSha256 is not { } sha)
                {
                    problems.Add(new ToolchainProblem(doc.Key, "the rustup binary record holds no sha256"));
                }
                else if (await store.GetPropertiesOrNullAsync(ToolchainPath.BlobKey(sha), cancellationToken) is null)
                {
                    problems.Add(new ToolchainProblem(doc.Key, $"its binary {ToolchainPath.BlobKey(sha)} is missing"));
                }
            }
        }

        // Archives and their sidecars, a date at a time.
        var filesByDate = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        await foreach (var file in store.ListAsync(ToolchainPath.FilesRoot, cancellationToken))
        {
            var path = file.Key[ToolchainPath.FilesRoot.Length..];
            Add(filesByDate, ToolchainPath.TryParse(path, out var parsed) ? parsed.Date ?? "" : "", file.Key);
        }

        var topLevelArchives = await ArchivesOfAsync(topLevel, limits, cancellationToken);
        foreach (var (date, keys) in filesByDate)
        {
            var dated = date.Length == 0 ? [] : await ArchivesOfAsync(manifestsByDate.GetValueOrDefault(date) ?? [], limits, cancellationToken);
            foreach (var key in keys)
            {
                files++;
                progress?.Report(key);
                var problem = await CheckFileAsync(key, dated, topLevelArchives, cancellationToken);
                if (problem is not null)
                {
                    problems.Add(new ToolchainProblem(key, problem));
                }
            }
        }

        await foreach (var blob in store.ListAsync(ToolchainPath.BlobsRoot, cancellationToken))
        {
            files++;
            progress?.Report(blob.Key);
            var expected = blob.Key[ToolchainPath.BlobsRoot.Length..];
            if (await HashAsync(blob.Key, cancellationToken) is var actual && actual != expected)
            {
                problems.Add(new ToolchainProblem(blob.Key, $"sha256 {actual} does not match its name"));
            }
        }

        return new ToolchainVerification(manifests, files, problems);
    }

    private async Task<string?> CheckFileAsync(string key, Dictionary<string, string> dated, Dictionary<string, string> topLevel, CancellationToken cancellationToken)
    {
        var path = key[ToolchainPath.FilesRoot.Length..];
        if (!ToolchainPath.TryParse(path, out var parsed) || parsed.ArchivePath is not { } archive)
        {
            return "not a toolchain archive or sidecar path";
        }

        var published = dated.GetValueOrDefault(archive) ?? topLevel.GetValueOrDefault(archive);
        if (parsed.Kind == ToolchainFileKind.Archive)
        {
            var actual = await HashAsync(key, cancellationToken);
            return published is null ? "no held manifest lists this archive"
                : actual != published ? $"sha256 {actual} does not match the published {published}"
                : null;
        }

        if (published is null)
        {
            return $"no held manifest lists {archive}, the archive this describes";
        }

        var properties = await store.GetPropertiesOrNullAsync(key, cancellationToken);
        if (properties is null)
        {
            return null; // deleted while verifying
        }

        if (properties.Length > ToolchainOptions.MaxSidecarBytes)
        {
            return $"{properties.Length} bytes, more than a sidecar can be";
        }

        var content = (await store.ReadSmallOrNullAsync(key, cancellationToken))?.Content ?? [];
        if (path.EndsWith(".asc", StringComparison.Ordinal))
        {
            return ChannelManifest.IsArmouredSignature(content) ? null : "not an ASCII-armoured signature";
        }

        var name = archive[(archive.LastIndexOf('/') + 1)..];
        return ChannelManifest.ParseSidecarSha256(content, name) switch
        {
            null => $"not a sha256 file for {name}",
            var sha when sha != published => $"says sha256 {sha}, but the manifest publishes {published}",
            _ => null,
        };
    }

    /// <summary>Every archive the manifests at <paramref name="keys"/> list, with its published sha256.</summary>
    private async Task<Dictionary<string, string>> ArchivesOfAsync(List<string> keys, ToolchainOptions limits, CancellationToken cancellationToken)
    {
        var archives = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (await store.GetPropertiesOrNullAsync(key, cancellationToken) is { } properties &&
                await ReadRecordAsync(properties, limits, null, cancellationToken) is { } record &&
                ToolchainRecords.ToListing(key, record, limits.MaxManifestBytes) is { } listing)
            {
                foreach (var (path, sha) in listing.Archives)
                {
                    archives.TryAdd(path, sha);
                }
            }
        }

        return archives;
    }

    private async Task<StoredRecord?> ReadRecordAsync(ObjectProperties doc, ToolchainOptions limits, List<ToolchainProblem>? problems, CancellationToken cancellationToken)
    {
        if (doc.Length > limits.MaxRecordBytes)
        {
            problems?.Add(new ToolchainProblem(doc.Key, $"{doc.Length} bytes, more than a record can be with Toolchains:MaxManifestBytes {limits.MaxManifestBytes}"));
            return null;
        }

        if (await store.ReadSmallOrNullAsync(doc.Key, cancellationToken) is not { } bytes)
        {
            return null; // deleted while verifying
        }

        if (ToolchainDocument.TryDeserialize(bytes.Content) is not { } document)
        {
            problems?.Add(new ToolchainProblem(doc.Key, "not a readable toolchain record"));
            return null;
        }

        return new StoredRecord(document, bytes.ETag, bytes.Content.Length);
    }

    private async Task<string?> HashAsync(string key, CancellationToken cancellationToken)
    {
        await using var stored = await store.OpenReadOrNullAsync(key, cancellationToken);
        return stored is null ? null : Convert.ToHexStringLower(await SHA256.HashDataAsync(stored.Content, cancellationToken));
    }

    private static void Add(Dictionary<string, List<string>> groups, string group, string key)
    {
        if (!groups.TryGetValue(group, out var list))
        {
            groups[group] = list = [];
        }

        list.Add(key);
    }
}
