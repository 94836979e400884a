using System.Collections.Concurrent;

namespace OrleansCrates.Core.Streaming;

/// <summary>
/// This node's cold downloads in progress, by storage key (<see cref="InFlightSpool"/>). The download that owns a key
/// starts a spool; a request on this node that would otherwise wait for the verified file waits for the spool to start
/// instead (<see cref="WaitForSpoolAsync"/>) and streams from it. One per process: bytes never cross nodes.
/// </summary>
public sealed class InFlightSpools
{
    private readonly ConcurrentDictionary<string, InFlightSpool> _spools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<InFlightSpool>> _waiters = new(StringComparer.Ordinal);
    private readonly string _directory;

    private readonly TimeSpan _streamAfter;

    /// <param name="streamAfter">
    /// How long a request waits for the verified file before it follows the download instead (default 5 s): a quick
    /// cold fetch is answered as before (whole, verified, with its ETag, a bad upstream file as 502 and failover
    /// unseen), and only a slow one streams, well before cargo's 30 s of silence.
    /// </param>
    public InFlightSpools(string? directory = null, TimeSpan? streamAfter = null)
    {
        _directory = directory ?? Path.Combine(Path.GetTempPath(), "orleanscrates-spools", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _streamAfter = streamAfter ?? TimeSpan.FromSeconds(5);
    }

    /// <summary>Spools in progress on this node.</summary>
    public int Count => _spools.Count;

    /// <summary>
    /// Starts the spool of <paramref name="key"/> (the caller owns the download); readers waiting for it are handed it.
    /// Dispose it when the download is over; it leaves the registry at once.
    /// </summary>
    public InFlightSpool Start(string key, long? expectedLength)
    {
        var spool = new InFlightSpool(key, _directory, expectedLength);
        _spools[key] = spool;
        if (_waiters.TryRemove(key, out var waiter))
        {
            waiter.TrySetResult(spool);
        }

        return spool;
    }

    /// <summary>Takes the spool out of the registry (new requests then wait for the stored file); readers keep reading.</summary>
    public void End(InFlightSpool spool)
    {
        _spools.TryRemove(new KeyValuePair<string, InFlightSpool>(spool.Key, spool));
        spool.Dispose();
    }

    /// <summary>
    /// A reader of <paramref name="key"/>'s download on this node, as soon as one starts, or null when
    /// <paramref name="until"/> (the wait for the verified file) ends first: the download ran elsewhere or was not needed.
    /// </summary>
    public async Task<SpoolRead?> WaitForSpoolAsync(string key, Task until, CancellationToken cancellationToken)
    {
        if (_streamAfter > TimeSpan.Zero && await Task.WhenAny(until, Task.Delay(_streamAfter, cancellationToken)) == until)
        {
            return null; // answered in time: the verified file is served whole
        }

        if (_spools.TryGetValue(key, out var running) && running.OpenReader() is { } reader)
        {
            return new SpoolRead(reader, running.ExpectedLength);
        }

        var waiter = _waiters.GetOrAdd(key, _ => new TaskCompletionSource<InFlightSpool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_spools.TryGetValue(key, out running))
        {
            waiter.TrySetResult(running); // started between the two looks
        }

        var first = await Task.WhenAny(waiter.Task, until).WaitAsync(cancellationToken);
        if (first != waiter.Task)
        {
            _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource<InFlightSpool>>(key, waiter));
            return null;
        }

        var spool = await waiter.Task;
        return spool.OpenReader() is { } stream ? new SpoolRead(stream, spool.ExpectedLength) : null;
    }
}

/// <summary>A reader of a download in progress on this node, and its length when upstream announced one.</summary>
public sealed record SpoolRead(Stream Content, long? Length);
