using System.Text.RegularExpressions;

namespace OrleansCrates.Toolchains;

/// <summary>One step of a toolchain prefetch: the file, how it went, and how far along the whole run is.</summary>
public sealed record ToolchainPrefetchProgress(int Done, int Total, string Path, ToolchainFetchStatus Status, string? Error);

/// <summary>The outcome of a prefetch: the files it made sure of, and those it could not get.</summary>
public sealed record ToolchainPrefetchResult(string ManifestPath, int Files, IReadOnlyList<ToolchainPrefetchProgress> Failures, string? Error)
{
    public bool Succeeded => Error is null && Failures.Count == 0;
}

/// <summary>
/// Fills the mirror before it goes offline: a channel's manifest (and its .sha256), then every archive a profile's
/// components and the extra components need for each target, in each compression the manifest publishes (so any
/// rustup finds the one it prefers). Each file goes through its owner like a request, so it is fetched once and verified.
/// </summary>
public sealed partial class ToolchainPrefetcher(ToolchainMirror mirror)
{
    public async Task<ToolchainPrefetchResult> PrefetchAsync(
        string channel,
        IReadOnlyList<string> targets,
        IReadOnlyList<string> components,
        string profile,
        IProgress<ToolchainPrefetchProgress>? progress,
        CancellationToken cancellationToken)
    {
        var manifestPath = ManifestPathOf(channel);
        if (!ToolchainPath.TryParse(manifestPath, out var path))
        {
            return new ToolchainPrefetchResult(manifestPath, 0, [], $"'{channel}' is not a channel name");
        }

        byte[] manifestBytes;
        await using (var opened = await mirror.OpenAsync(path, cancellationToken))
        {
            if (opened.Status != ToolchainServeStatus.Found || opened.Content is null)
            {
                return new ToolchainPrefetchResult(manifestPath, 0, [], $"{manifestPath}: {opened.Status}: {opened.Error}");
            }

            using var buffer = new MemoryStream();
            await opened.Content.CopyToAsync(buffer, cancellationToken);
            manifestBytes = buffer.ToArray();
        }

        if (ChannelManifest.TryParse(manifestBytes, mirror.Options.MaxManifestBytes, out var problem) is not { } manifest)
        {
            return new ToolchainPrefetchResult(manifestPath, 0, [], $"{manifestPath}: {problem}");
        }

        if (!manifest.Profiles.TryGetValue(profile, out var profileComponents))
        {
            return new ToolchainPrefetchResult(manifestPath, 0, [], $"{manifestPath} has no profile '{profile}' (it has {string.Join(", ", manifest.Profiles.Keys)})");
        }

        var wanted = profileComponents.Concat(components).ToHashSet(StringComparer.Ordinal);
        var files = new List<string> { manifestPath + ".sha256" };
        files.AddRange(manifest.Archives
            .Where(a => wanted.Contains(a.Package) && (a.Target == "*" || targets.Contains(a.Target, StringComparer.Ordinal)))
            .Select(a => a.Path)
            .Distinct(StringComparer.Ordinal));

        var failures = new List<ToolchainPrefetchProgress>();
        var done = 0;
        foreach (var file in files)
        {
            if (!ToolchainPath.TryParse(file, out var filePath))
            {
                failures.Add(new ToolchainPrefetchProgress(++done, files.Count, file, ToolchainFetchStatus.NotFound, "not a path this mirror serves"));
                continue;
            }

            var fetched = await mirror.EnsureAsync(filePath, cancellationToken);
            var step = new ToolchainPrefetchProgress(++done, files.Count, file, fetched.Status, fetched.Error);
            if (fetched.Status is not (ToolchainFetchStatus.Stored or ToolchainFetchStatus.Stale))
            {
                failures.Add(step);
            }

            progress?.Report(step);
        }

        return new ToolchainPrefetchResult(manifestPath, files.Count + 1, failures, null);
    }

    /// <summary><c>stable</c> → <c>dist/channel-rust-stable.toml</c>; <c>nightly-2026-11-20</c> → <c>dist/2026-11-20/channel-rust-nightly.toml</c>.</summary>
    public static string ManifestPathOf(string channel) =>
        Dated().Match(channel) is { Success: true } m
            ? $"dist/{m.Groups["date"].Value}/channel-rust-{m.Groups["channel"].Value}.toml"
            : $"dist/channel-rust-{channel}.toml";

    [GeneratedRegex(@"^(?<channel>.+)-(?<date>\d{4}-\d{2}-\d{2})$")]
    private static partial Regex Dated();
}
