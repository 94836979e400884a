using System.Net;
using System.Net.Sockets;

namespace OrleansCrates.Testing;

/// <summary>
/// A blackholed server: a TCP listener on 127.0.0.1 that accepts every connection and never answers (what a dead
/// proxy or a dropped route looks like to a client, unlike a refused connection). Counts the connections it accepted.
/// </summary>
public sealed class SilentListener : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<TcpClient> _held = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstAccepted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private int _accepted;

    public SilentListener()
    {
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _loop = AcceptAsync();
    }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Url { get; }

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Completes when the first connection was accepted.</summary>
    public Task FirstAccepted => _firstAccepted.Task;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        lock (_held)
        {
            _held.ForEach(c => c.Dispose());
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            lock (_held)
            {
                _held.Add(client); // kept open, never read or answered
            }

            Interlocked.Increment(ref _accepted);
            _firstAccepted.TrySetResult();
        }
    }
}
