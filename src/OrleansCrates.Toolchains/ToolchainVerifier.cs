using System.Security.Cryptography;
using OrleansCrates.Storage;

namespace OrleansCrates.Toolchains;

/// <summary>One stored toolchain file that does not hold up, and why.</summary>
public sealed record ToolchainProblem(string Key, string Problem);

/// <summary>What a toolchain verification found: how many files it checked and the problems.</summary>
public sealed record ToolchainVerification(int Manifests, int Files, IReadOnlyList<ToolchainProblem> Problems);

/// <summary>
/// Checks every stored toolchain file against what publishes it: each manifest against its stored <c>.sha256</c>, each
/// archive against the hash its manifests publish (one no held manifest lists is reported), each rustup binary blob
/// against the hash it is stored under. Streams every file; reports progress per file.
/// </summary>
public sealed class ToolchainVerifier(IObjectStore store, Microsoft.Extensions.Options.IOptions<ToolchainOptions> options)
{
    public async Task<ToolchainVerification> VerifyAsync(IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var problems = new List<ToolchainProblem>();
        var published = new Dictionary<string, string>(StringComparer.Ordinal);
        var manifests = 0;
        await foreach (var doc in store.ListAsync("toolchains/docs/", cancellationToken))
        {
            var bytes = await store.ReadSmallOrNullAsync(doc.Key, cancellationToken);
            if (bytes is null)
            {
                continue;
            }

            if (ToolchainDocument.TryDeserialize(bytes.Value.Content) is not { } document)
            {
                problems.Add(new ToolchainProblem(doc.Key, "not a readable toolchain record"));
                continue;
            }

            if (!doc.Key.EndsWith(".toml", StringComparison.Ordinal) || doc.Key.EndsWith("release-stable.toml", StringComparison.Ordinal))
            {
                continue;
            }

            manifests++;
            var actual = Convert.ToHexStringLower(SHA256.HashData(document.Body));
            if (actual != document.PublishedSha256)
            {
                problems.Add(new ToolchainProblem(doc.Key, $"manifest sha256 {actual} does not match its stored .sha256 {document.PublishedSha256}"));
            }
            else if (ChannelManifest.TryParse(document.Body, options.Value.MaxManifestBytes, out var error) is { } manifest)
            {
                foreach (var archive in manifest.Archives)
                {
                    published[archive.Path] = archive.Sha256;
                }
            }
            else
            {
                problems.Add(new ToolchainProblem(doc.Key, $"not a channel manifest: {error}"));
            }

            progress?.Report(doc.Key);
        }

        var files = 0;
        await foreach (var file in store.ListAsync("toolchains/files/", cancellationToken))
        {
            var path = file.Key["toolchains/files/".Length..];
            if (path.EndsWith(".sha256", StringComparison.Ordinal) || path.EndsWith(".asc", StringComparison.Ordinal))
            {
                continue;
            }

            files++;
            var expected = published.GetValueOrDefault(path);
            var actual = await HashAsync(file.Key, cancellationToken);
            if (expected is null)
            {
                problems.Add(new ToolchainProblem(file.Key, "no held manifest lists this archive"));
            }
            else if (actual != expected)
            {
                problems.Add(new ToolchainProblem(file.Key, $"sha256 {actual} does not match the published {expected}"));
            }

            progress?.Report(file.Key);
        }

        await foreach (var blob in store.ListAsync("toolchains/blobs/sha256/", cancellationToken))
        {
            files++;
            var expected = blob.Key["toolchains/blobs/sha256/".Length..];
            if (await HashAsync(blob.Key, cancellationToken) is var actual && actual != expected)
            {
                problems.Add(new ToolchainProblem(blob.Key, $"sha256 {actual} does not match its name"));
            }

            progress?.Report(blob.Key);
        }

        return new ToolchainVerification(manifests, files, problems);
    }

    private async Task<string?> HashAsync(string key, CancellationToken cancellationToken)
    {
        await using var stored = await store.OpenReadOrNullAsync(key, cancellationToken);
        return stored is null ? null : Convert.ToHexStringLower(await SHA256.HashDataAsync(stored.Content, cancellationToken));
    }
}
