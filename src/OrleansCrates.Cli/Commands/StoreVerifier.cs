using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;
using OrleansCrates.Cli.Output;

namespace OrleansCrates.Cli.Commands;

/// <summary>
/// What <c>verify</c> checks, against the store alone (no server):
/// <list type="bullet">
/// <item>The mirror: every stored index file (<c>index/{IndexPath}</c>) is read and each stored crate file under
/// <c>crates/{IndexPath}/</c> is streamed through SHA-256 and compared with its line's <c>cksum</c>. A file with no line
/// is extra; a file of a crate with no stored index file too. Versions upstream stopped listing but the mirror keeps
/// (<see cref="StoredIndex.DeletedUpstream"/>) are noted as "kept, deleted upstream", not as errors.</item>
/// <item>With another registry (<c>--against</c>): that registry's index file of each stored crate is fetched and its
/// lines compared byte for byte with the stored ones per version (a difference only in <c>yanked</c> is a note: the
/// mirror picks it up when it revalidates); versions there but not here are missing, versions here but not there are
/// extra; held files are compared with that registry's <c>cksum</c> too.</item>
/// <item>The private registry: every line of every <c>private/index/</c> file must have its content-addressed file,
/// which must hash to the line's <c>cksum</c>. Files no line names are noted (a publish that lost a race leaves one).
/// A claimed name (<c>private/meta/</c>) without any version is a problem: a publish died before its version landed.</item>
/// </list>
/// Crates are checked <c>concurrency</c> at a time; only one crate file is open per worker, and never held whole.
/// </summary>
internal sealed class StoreVerifier(IObjectStore store, OtherRegistry? against, int concurrency, CliProgress progress)
{
    private const string MirrorIndexPrefix = "index/";
    private const string MirrorCratePrefix = "crates/";
    private const string CrateSuffix = ".crate";

    private readonly ConcurrentBag<Finding> _findings = [];
    private long _mirrorCrates;
    private long _privateCrates;
    private long _versions;
    private long _files;
    private long _bytes;

    public async Task<VerifyReport> RunAsync(CancellationToken cancellationToken)
    {
        var mirrorIndexes = await ListKeysAsync(MirrorIndexPrefix, cancellationToken);
        var privateIndexes = await ListKeysAsync(RegistryKeys.IndexPrefix, cancellationToken);
        progress.Total = mirrorIndexes.Count + privateIndexes.Count;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };

        await Parallel.ForEachAsync(mirrorIndexes, parallel, async (key, ct) =>
        {
            await VerifyMirrorCrateAsync(key, ct);
            progress.Advance();
        });
        var indexed = mirrorIndexes.Select(k => k[MirrorIndexPrefix.Length..]).ToHashSet(StringComparer.Ordinal);
        await FindMirrorFilesWithoutIndexAsync(indexed, cancellationToken);

        var referenced = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(privateIndexes, parallel, async (key, ct) =>
        {
            await VerifyPrivateCrateAsync(key, referenced, ct);
            progress.Advance();
        });
        await FindUnreferencedPrivateFilesAsync(referenced, cancellationToken);
        await foreach (var claim in PrivateRegistry.FindUnpublishedClaimsAsync(store, cancellationToken))
        {
            Add(FindingKind.EmptyClaim, Registry.Private, claim.Name, null, $"{claim.MetaKey}: {claim.Detail}");
        }

        return new VerifyReport(
            [.. _findings.Order()],
            _mirrorCrates,
            _privateCrates,
            _versions,
            _files,
            _bytes,
            against?.IndexUrl);
    }

    private async Task VerifyMirrorCrateAsync(string key, CancellationToken ct)
    {
        var indexPath = key[MirrorIndexPrefix.Length..];
        if (!TryCrateOfIndexPath(indexPath, out var name))
        {
            Add(FindingKind.Unreadable, Registry.Mirror, indexPath, null, $"{key} is not where the mirror keeps any crate's index file");
            return;
        }

        Interlocked.Increment(ref _mirrorCrates);
        var bytes = await store.ReadSmallOrNullAsync(key, ct);
        if (bytes is null)
        {
            return; // deleted while we listed
        }

        var stored = StoredIndex.TryDeserialize(bytes.Value.Content);
        if (stored is null)
        {
            Add(FindingKind.Unreadable, Registry.Mirror, name.Value, null, $"{key} is not a stored index file this version understands");
            return;
        }

        var ours = ReadLines(stored.Body, name, Registry.Mirror, key);
        Interlocked.Add(ref _versions, ours.Count);
        var deleted = stored.DeletedUpstream.ToHashSet(StringComparer.Ordinal);
        var theirs = against is null ? null : await FetchTheirsAsync(name, ct);

        // Every held file: hashed once, compared with the stored line (and that registry's, below).
        var held = new Dictionary<string, string>(StringComparer.Ordinal);
        var filePrefix = $"{MirrorCratePrefix}{name.IndexPath}/";
        await foreach (var file in store.ListAsync(filePrefix, ct))
        {
            var version = VersionOfMirrorFile(file.Key[filePrefix.Length..], name);
            if (version is null)
            {
                Add(FindingKind.Extra, Registry.Mirror, name.Value, null, $"{file.Key} is not named like a crate file of {name.Lower}");
                continue;
            }

            var sha = await HashOrNullAsync(file.Key, ct);
            if (sha is null)
            {
                continue;
            }

            if (!ours.ContainsKey(version))
            {
                Add(FindingKind.Extra, Registry.Mirror, name.Value, version, $"stored file {file.Key} has no line in the stored index");
                continue;
            }

            held[version] = sha;
        }

        var theirName = against?.IndexUrl.AbsoluteUri;
        foreach (var (version, our) in ours)
        {
            var file = held.GetValueOrDefault(version);
            IndexedLine? their = null;
            if (theirs is not null)
            {
                theirs.Lines.TryGetValue(version, out their);
            }

            if (file is not null && file != our.Line.Checksum)
            {
                var detail = $"stored file sha256 {file} does not match the stored line's cksum {our.Line.Checksum}";
                if (their is not null)
                {
                    detail += their.Line.Checksum == file ? $"; {theirName} has the file's checksum, so the stored line was changed"
                        : their.Line.Checksum == our.Line.Checksum ? $"; {theirName} agrees with the stored line, so the stored file was changed"
                        : $"; {theirName} has {their.Line.Checksum}";
                }

                Add(FindingKind.Mismatch, Registry.Mirror, name.Value, version, detail);
            }

            var kept = deleted.Contains(version);
            if (kept)
            {
                Add(FindingKind.Kept, Registry.Mirror, name.Value, version,
                    "kept, deleted upstream" + (file is null ? " (its file is not held)" : file == our.Line.Checksum ? " (the held file matches its line)" : ""));
            }

            if (theirs is null || !theirs.Checked)
            {
                continue;
            }

            if (their is null)
            {
                if (!kept)
                {
                    Add(FindingKind.Extra, Registry.Mirror, name.Value, version,
                        $"in the stored index but not in {theirName}{(theirs.Lines.Count == 0 ? " (no such crate there)" : "")}{(file is null ? "" : "; its file is held")}");
                }
            }
            else if (!our.Raw.Span.SequenceEqual(their.Raw.Span))
            {
                if (WithoutYank(our.Raw).SequenceEqual(WithoutYank(their.Raw)))
                {
                    Add(FindingKind.StaleYank, Registry.Mirror, name.Value, version,
                        $"only the yanked flag differs from {theirName} (stored copy fetched {TextOutput.Time(stored.FetchedAt)}; the mirror updates it when it revalidates)");
                }
                else
                {
                    var detail = $"the stored index line differs from {theirName}'s";
                    if (our.Line.Checksum != their.Line.Checksum)
                    {
                        detail += $": cksum {our.Line.Checksum} here, {their.Line.Checksum} there";
                        if (file is not null)
                        {
                            detail += file == our.Line.Checksum ? "; the held file matches the stored line, not theirs" : file == their.Line.Checksum ? "; the held file matches theirs" : "";
                        }
                    }

                    Add(FindingKind.Differs, Registry.Mirror, name.Value, version, detail);
                }
            }
        }

        if (theirs is { Checked: true })
        {
            foreach (var version in theirs.Lines.Keys.Where(v => !ours.ContainsKey(v)))
            {
                Add(FindingKind.Missing, Registry.Mirror, name.Value, version,
                    $"in {theirName} but not in the stored index (stored copy fetched {TextOutput.Time(stored.FetchedAt)})");
            }
        }
    }

    /// <summary>That registry's lines of one crate; <see cref="TheirIndex.Checked"/> is false when it could not be asked.</summary>
    private async Task<TheirIndex> FetchTheirsAsync(CrateName name, CancellationToken ct)
    {
        var result = await against!.FetchCrateIndexAsync(name, ct);
        switch (result.Status)
        {
            case IndexFetchStatus.Modified:
                var lines = new Dictionary<string, IndexedLine>(StringComparer.Ordinal);
                foreach (var raw in IndexFile.Lines(result.Body!))
                {
                    if (IndexLine.TryParse(raw.Span) is { } line)
                    {
                        lines.TryAdd(line.Version, new IndexedLine(raw, line));
                    }
                }

                return new TheirIndex(true, lines);
            case IndexFetchStatus.NotFound:
                return new TheirIndex(true, []);
            default:
                Add(FindingKind.Unchecked, Registry.Mirror, name.Value, null, $"could not compare with {against.IndexUrl}: {result.Error}");
                return new TheirIndex(false, []);
        }
    }

    /// <summary>Files under <c>crates/</c> whose crate has no stored index file at all.</summary>
    private async Task FindMirrorFilesWithoutIndexAsync(HashSet<string> indexed, CancellationToken ct)
    {
        await foreach (var file in store.ListAsync(MirrorCratePrefix, ct))
        {
            var rest = file.Key[MirrorCratePrefix.Length..];
            var slash = rest.LastIndexOf('/');
            var folder = slash < 0 ? "" : rest[..slash];
            if (indexed.Contains(folder))
            {
                continue; // checked with its crate
            }

            var crate = folder.Length == 0 ? rest : folder[(folder.LastIndexOf('/') + 1)..];
            var version = TryCrateOfIndexPath(folder, out var name) ? VersionOfMirrorFile(rest[(slash + 1)..], name) : null;
            Add(FindingKind.Extra, Registry.Mirror, crate, version, $"stored file {file.Key} belongs to no stored index file");
        }
    }

    private async Task VerifyPrivateCrateAsync(string key, ConcurrentDictionary<string, bool> referenced, CancellationToken ct)
    {
        var indexPath = key[RegistryKeys.IndexPrefix.Length..];
        if (!TryCrateOfIndexPath(indexPath, out var name))
        {
            Add(FindingKind.Unreadable, Registry.Private, indexPath, null, $"{key} is not where the private registry keeps any crate's index file");
            return;
        }

        Interlocked.Increment(ref _privateCrates);
        var bytes = await store.ReadSmallOrNullAsync(key, ct);
        if (bytes is null)
        {
            return;
        }

        var lines = ReadLines(bytes.Value.Content, name, Registry.Private, key);
        Interlocked.Add(ref _versions, lines.Count);
        foreach (var (version, line) in lines)
        {
            // Content-addressed: the line's cksum names the file, so a changed line points at a file that is not there.
            var fileKey = RegistryKeys.CrateFile(name, version, line.Line.Checksum);
            referenced[fileKey] = true;
            var sha = await HashOrNullAsync(fileKey, ct);
            if (sha is null)
            {
                Add(FindingKind.Missing, Registry.Private, name.Value, version, $"the file for this line ({fileKey}) is not in storage");
            }
            else if (sha != line.Line.Checksum)
            {
                Add(FindingKind.Mismatch, Registry.Private, name.Value, version,
                    $"stored file {fileKey} has sha256 {sha}, not the cksum {line.Line.Checksum} its line and its key say");
            }
        }
    }

    private async Task FindUnreferencedPrivateFilesAsync(ConcurrentDictionary<string, bool> referenced, CancellationToken ct)
    {
        await foreach (var file in store.ListAsync(RegistryKeys.CratePrefix, ct))
        {
            if (!referenced.ContainsKey(file.Key))
            {
                var rest = file.Key[RegistryKeys.CratePrefix.Length..];
                var slash = rest.LastIndexOf('/');
                var crate = slash < 0 ? rest : rest[..slash][(rest[..slash].LastIndexOf('/') + 1)..];
                Add(FindingKind.Unreferenced, Registry.Private, crate, null,
                    $"stored file {file.Key} is named by no index line (a publish that lost a race leaves one; cargo never asks for it)");
            }
        }
    }

    /// <summary>The lines of an index file by version; unusable lines, lines of another crate and repeated versions are reported.</summary>
    private Dictionary<string, IndexedLine> ReadLines(ReadOnlyMemory<byte> body, CrateName name, string registry, string key)
    {
        var lines = new Dictionary<string, IndexedLine>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in IndexFile.Lines(body))
        {
            number++;
            var line = IndexLine.TryParse(raw.Span);
            if (line is null)
            {
                Add(FindingKind.Unreadable, registry, name.Value, null, $"line {number} of {key} is not a usable index line (name, vers and a sha256 cksum)");
            }
            else if (!CrateName.TryParse(line.Name, out var lineName) || !lineName.Value.Equals(name))
            {
                Add(FindingKind.Unreadable, registry, name.Value, line.Version, $"line {number} of {key} is for crate '{line.Name}'");
            }
            else if (!lines.TryAdd(line.Version, new IndexedLine(raw, line)))
            {
                Add(FindingKind.Unreadable, registry, name.Value, line.Version, $"line {number} of {key} repeats version {line.Version}");
            }
        }

        return lines;
    }

    /// <summary>Streams a stored file through SHA-256; null when it is gone.</summary>
    private async Task<string?> HashOrNullAsync(string key, CancellationToken ct)
    {
        var stored = await store.OpenReadOrNullAsync(key, ct);
        if (stored is null)
        {
            return null;
        }

        await using (stored)
        {
            var hash = await SHA256.HashDataAsync(stored.Content, ct);
            Interlocked.Increment(ref _files);
            Interlocked.Add(ref _bytes, stored.Length);
            progress.AddBytes(stored.Length);
            return Convert.ToHexStringLower(hash);
        }
    }

    private async Task<List<string>> ListKeysAsync(string prefix, CancellationToken ct)
    {
        var keys = new List<string>();
        await foreach (var item in store.ListAsync(prefix, ct))
        {
            keys.Add(item.Key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    private void Add(FindingKind kind, string registry, string crate, string? version, string detail) =>
        _findings.Add(new Finding(kind, registry, crate, version, detail));

    private static bool TryCrateOfIndexPath(string indexPath, out CrateName name)
    {
        var last = indexPath[(indexPath.LastIndexOf('/') + 1)..];
        if (CrateName.TryParse(last, out var parsed) && parsed.Value.IndexPath == indexPath)
        {
            name = parsed.Value;
            return true;
        }

        name = default;
        return false;
    }

    /// <summary>The version in <c>{lowername}-{version}.crate</c>, or null when the file is not named so.</summary>
    private static string? VersionOfMirrorFile(string fileName, CrateName name) =>
        fileName.StartsWith(name.Lower + "-", StringComparison.Ordinal) && fileName.EndsWith(CrateSuffix, StringComparison.Ordinal) &&
        fileName.Length > name.Lower.Length + 1 + CrateSuffix.Length && !fileName.Contains('/', StringComparison.Ordinal)
            ? fileName[(name.Lower.Length + 1)..^CrateSuffix.Length]
            : null;

    private static byte[] WithoutYank(ReadOnlyMemory<byte> line) =>
        Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(line.Span).Replace("\"yanked\":true", "\"yanked\":false", StringComparison.Ordinal));

    private sealed record IndexedLine(ReadOnlyMemory<byte> Raw, IndexLine Line);

    private sealed record TheirIndex(bool Checked, Dictionary<string, IndexedLine> Lines);

    private static class Registry
    {
        public const string Mirror = "mirror";
        public const string Private = "private";
    }
}
