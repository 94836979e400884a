using Microsoft.Extensions.Hosting;

namespace OrleansCrates.Mirror;

/// <summary>
/// The host lifetime the mirror's services expect, for code that runs them outside a host (the CLI, where Ctrl+C
/// calls <see cref="StopApplication"/>, and tests): only stopping is signalled.
/// </summary>
public sealed class StandaloneLifetime : IHostApplicationLifetime, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public CancellationToken ApplicationStarted => CancellationToken.None;

    public CancellationToken ApplicationStopping => _stopping.Token;

    public CancellationToken ApplicationStopped => CancellationToken.None;

    public void StopApplication() => _stopping.Cancel();

    public void Dispose() => _stopping.Dispose();
}
