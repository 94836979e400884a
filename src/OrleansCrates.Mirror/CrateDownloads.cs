using Microsoft.Extensions.Options;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Mirror;

/// <summary>
/// How the mirror hands out a crate file: the bytes themselves (from the hot layer or storage, see
/// <see cref="CrateCoordinator.OpenCrateFileAsync"/>), or, with <c>Mirror:Downloads:Redirect</c> on storage that can
/// issue read URLs (<see cref="IReadUrlIssuer"/>), a short-lived read-only URL of the stored file for a redirect. The
/// decision is settled once at start-up: a mirror whose reads need a token never redirects (the URL would be readable
/// by anyone holding it), nor does one on storage without read URLs; with redirects off this adds nothing per request.
/// </summary>
public sealed class CrateDownloads
{
    private readonly CrateCoordinator _coordinator;
    private readonly IReadUrlIssuer? _redirects;
    private readonly TimeSpan _lifetime;

    public CrateDownloads(CrateCoordinator coordinator, IOptions<MirrorOptions> options, IReadUrlIssuer? readUrls = null)
    {
        _coordinator = coordinator;
        var mirror = options.Value;
        _redirects = mirror.Downloads.Redirect && !mirror.ReadRequiresToken ? readUrls : null;
        _lifetime = mirror.Downloads.RedirectLifetime;
    }

    /// <summary>Whether downloads are answered with redirects to storage.</summary>
    public bool Redirects => _redirects is not null;

    /// <summary>
    /// The crate file, fetched from upstream first if need be: with redirects, a found result carries
    /// <see cref="CrateFileResult.Location"/> and no file; otherwise (or when no URL could be issued) the opened file.
    /// Dispose the result.
    /// </summary>
    public Task<CrateFileResult> GetAsync(CrateName name, string version, CancellationToken cancellationToken) =>
        _redirects is null
            ? _coordinator.OpenCrateFileAsync(name, version, cancellationToken)
            : RedirectOrOpenAsync(_redirects, name, version, cancellationToken);

    private async Task<CrateFileResult> RedirectOrOpenAsync(IReadUrlIssuer redirects, CrateName name, string version, CancellationToken cancellationToken)
    {
        var ensured = await _coordinator.EnsureCrateFileAsync(name, version, cancellationToken);
        if (ensured.Status != CrateFileStatus.Found)
        {
            return ensured;
        }

        var url = await redirects.ReadUrlOrNullAsync(MirrorKeys.CrateFile(name, version), _lifetime, cancellationToken);
        return url is not null
            ? ensured with { Location = url }
            : await _coordinator.OpenCrateFileAsync(name, version, cancellationToken) with { Outcome = ensured.Outcome };
    }
}
