using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansCrates.Mirror.Streaming;

/// <summary>
/// This node's cold downloads in progress, by storage key (<see cref="InFlightSpool"/>), and the downloads of other
/// nodes it follows. The download that owns a key starts a spool; a request that would otherwise wait for the verified
/// file follows the download instead (<see cref="FollowAsync"/>): from this node's spool when the download runs here,
/// otherwise from the downloading node's spool over its internal HTTP listener (<see cref="SpoolRelay"/>), copied into
/// one relay spool on this node that all of its waiting requests read. Bytes never travel in grain messages: the owner's
/// grain only says where the download runs (<see cref="LocateAsync"/>).
/// </summary>
public sealed partial class InFlightSpools
{
    /// <summary>Calls to the owner that fail (its silo died) are made again at most this often (about 35 s with the pauses).</summary>
    private const int MaxLocateAttempts = 20;

    private readonly ConcurrentDictionary<string, InFlightSpool> _spools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, InFlightSpool> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<InFlightSpool?>>> _relays = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<InFlightSpool>> _waiters = new(StringComparer.Ordinal);
    private readonly string _directory;
    private readonly TimeSpan _streamAfter;
    private readonly SpoolRelay? _relay;
    private readonly ILogger _logger;

    /// <param name="directory">Where spool files are written (a folder per process under the temp folder by default).</param>
    /// <param name="streamAfter">
    /// How long a request waits for the verified file before it follows the download instead (default 5 s): a quick
    /// cold fetch is answered as before (whole, verified, with its ETag, a bad upstream file as 502 and failover
    /// unseen), and only a slow one streams, well before cargo's 30 s of silence.
    /// </param>
    /// <param name="relay">How this node reads other nodes' spools; null: only downloads on this node are followed.</param>
    public InFlightSpools(string? directory = null, TimeSpan? streamAfter = null, SpoolRelay? relay = null, ILogger<InFlightSpools>? logger = null)
    {
        _directory = directory ?? Path.Combine(Path.GetTempPath(), "orleanscrates-spools", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _streamAfter = streamAfter ?? TimeSpan.FromSeconds(5);
        _relay = relay;
        _logger = logger ?? NullLogger<InFlightSpools>.Instance;
    }

    /// <summary>Downloads in progress on this node.</summary>
    public int Count => _spools.Count;

    /// <summary>Other nodes' downloads this node is copying for its waiting requests right now.</summary>
    public int RelayCount => _relays.Count;

    /// <summary>
    /// The base URL of this node's internal HTTP listener, where other nodes read its spools (set by the host once the
    /// listener is up); null when it serves them to no one (a one-silo cluster, the CLI).
    /// </summary>
    public Uri? ServedAt { get; set; }

    /// <summary>
    /// Starts the spool of <paramref name="key"/> (the caller owns the download); readers waiting for it are handed it.
    /// Dispose it when the download is over; it leaves the registry at once.
    /// </summary>
    /// <param name="sha256">The sha256 the bytes must have, for nodes that relay them to check again.</param>
    public InFlightSpool Start(string key, long? expectedLength, string? sha256 = null)
    {
        var spool = new InFlightSpool(key, _directory, expectedLength, sha256);
        _byId[spool.Id] = spool;
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
        ArgumentNullException.ThrowIfNull(spool);
        _spools.TryRemove(new KeyValuePair<string, InFlightSpool>(spool.Key, spool));
        _byId.TryRemove(new KeyValuePair<string, InFlightSpool>(spool.Id, spool));
        spool.Dispose();
    }

    /// <summary>
    /// A reader of the download on this node whose spool is <paramref name="id"/> (what the internal listener serves to
    /// other nodes), or null when there is none (never started, or over: the file is stored or failed).
    /// </summary>
    public SpoolRead? OpenByIdOrNull(string id) =>
        _byId.TryGetValue(id, out var spool) && spool.OpenReader() is { } reader ? new SpoolRead(reader, spool.ExpectedLength) : null;

    /// <summary>
    /// The spool of <paramref name="key"/>'s download on this node as soon as it starts, or null when
    /// <paramref name="until"/> (the download's flight) ends first.
    /// </summary>
    public async Task<InFlightSpool?> WhenStartedAsync(string key, Task until, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(until);
        if (_spools.TryGetValue(key, out var running))
        {
            return running;
        }

        var waiter = _waiters.GetOrAdd(key, _ => new TaskCompletionSource<InFlightSpool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_spools.TryGetValue(key, out running))
        {
            waiter.TrySetResult(running); // started between the two looks
        }

        Task first;
        try
        {
            first = await Task.WhenAny(waiter.Task, until).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource<InFlightSpool>>(key, waiter));
            throw;
        }

        if (first != waiter.Task)
        {
            _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource<InFlightSpool>>(key, waiter));
            return null;
        }

        return await waiter.Task;
    }

    /// <summary>
    /// The owner's answer to "where can <paramref name="key"/>'s download be followed": this node's spool (its id, this
    /// node's internal URL, the length and sha256) as soon as the download starts, or null when
    /// <paramref name="until"/> (the download's flight) ends first — the file is stored, or failed.
    /// </summary>
    public async Task<SpoolLocation?> LocateAsync(string key, Task until, CancellationToken cancellationToken) =>
        await WhenStartedAsync(key, until, cancellationToken) is { } spool
            ? new SpoolLocation(spool.Id, ServedAt, spool.ExpectedLength, spool.Sha256)
            : null;

    /// <summary>
    /// A reader of <paramref name="key"/>'s download wherever in the cluster it runs, or null when the request should
    /// simply wait for the verified file: <paramref name="until"/> (the wait for it) ended within the first 5 s or
    /// before the download could be followed, or the downloading node cannot be read.
    /// </summary>
    /// <param name="locate">
    /// Asks the file's owner where its download runs (it starts the download if none is running); null: only this
    /// node's own downloads are followed. A failed call (the owner's silo died) is made again while the wait goes on.
    /// </param>
    public async Task<SpoolRead?> FollowAsync(string key, Task until, Func<CancellationToken, Task<SpoolLocation?>>? locate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(until);
        if (_streamAfter > TimeSpan.Zero)
        {
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var deadline = Task.Delay(_streamAfter, waiting.Token);
            var verifiedHere = WhenVerifiedHereAsync(key, until, waiting.Token);
            if (await Task.WhenAny(until, verifiedHere, deadline) == verifiedHere)
            {
                if (verifiedHere.IsCompletedSuccessfully && verifiedHere.Result is { } verified)
                {
                    await waiting.CancelAsync();
                    return verified; // the download ran here and verified: served whole while the commit runs
                }

                // This node's download failed (a bad file: the flight fails over, or reports it): wait as before.
                await Task.WhenAny(until, deadline);
            }

            await waiting.CancelAsync(); // the timer, and a wait for this node's spool, end with the wait
            Discard(verifiedHere);
            if (until.IsCompleted)
            {
                return null; // answered in time: the verified file is served whole
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (_spools.TryGetValue(key, out var running) && running.OpenReader() is { } reader)
        {
            return new SpoolRead(reader, running.ExpectedLength);
        }

        if (locate is null)
        {
            return await WhenStartedAsync(key, until, cancellationToken) is { } local && local.OpenReader() is { } stream ? new SpoolRead(stream, local.ExpectedLength) : null;
        }

        var backoff = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; attempt <= MaxLocateAttempts && !until.IsCompleted; attempt++)
        {
            using var asking = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var locating = locate(asking.Token);
            Task first;
            try
            {
                first = await Task.WhenAny(locating, until).WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Observe(locating); // the client left; the call is cancelled with it
                throw;
            }

            if (first != locating)
            {
                await asking.CancelAsync(); // the file is there (or failed): the owner need not answer any more
                Observe(locating);
                return null;
            }

            SpoolLocation? location;
            try
            {
                location = await locating;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // The owner's silo died or cannot be reached: once it is evicted, the next call reaches a new activation.
                LogLocateFailed(_logger, key, attempt, $"{e.GetType().Name}: {e.Message}");
                await Task.WhenAny(until, Task.Delay(backoff, cancellationToken));
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                continue;
            }

            return location is null ? null : await OpenAsync(key, location, cancellationToken);
        }

        return null;
    }

    /// <summary>
    /// The whole file from this node's spool of <paramref name="key"/> once its download verified, or null when
    /// <paramref name="until"/> ends first, the download runs on another node, or it failed (the flight says how).
    /// </summary>
    private async Task<SpoolRead?> WhenVerifiedHereAsync(string key, Task until, CancellationToken cancellationToken)
    {
        var spool = await WhenStartedAsync(key, until, cancellationToken);
        if (spool is null || !await spool.Finished.WaitAsync(cancellationToken))
        {
            return null;
        }

        // Null when the download is over and its readers gone: the file is stored by then.
        return spool.OpenReader() is { } reader ? new SpoolRead(reader, spool.Written) { Verified = true } : null;
    }

    /// <summary>A reader that lost the race to the flight: closed when it comes (it holds the spool's file open).</summary>
    private static void Discard(Task<SpoolRead?> reading) =>
        _ = reading.ContinueWith(
            static t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    t.Result?.Content.Dispose();
                }
                else
                {
                    _ = t.Exception;
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

    /// <summary>A call nobody awaits any more: its failure (cancelled, the silo gone) is expected and not worth an unobserved exception.</summary>
    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>A reader of the download at <paramref name="location"/>: this node's own spool, or a relay of another node's.</summary>
    private async Task<SpoolRead?> OpenAsync(string key, SpoolLocation location, CancellationToken cancellationToken)
    {
        if (OpenByIdOrNull(location.SpoolId) is { } local)
        {
            return local;
        }

        if (_relay is null || location.Node is null)
        {
            return null; // a download on a node that serves its spools to no one: wait for the stored file
        }

        var flight = _relays.GetOrAdd(location.SpoolId, _ => new Lazy<Task<InFlightSpool?>>(() => StartRelayAsync(key, location)));
        var spool = await flight.Value.WaitAsync(cancellationToken);

        // Null: the node does not serve it (any more), or the relay is already over: the file is stored or failed by now.
        return spool?.OpenReader() is { } reader ? new SpoolRead(reader, spool.ExpectedLength) : null;
    }

    /// <summary>Opens the other node's spool and copies it into a relay spool here, shared by this node's requests.</summary>
    private async Task<InFlightSpool?> StartRelayAsync(string key, SpoolLocation location)
    {
        HttpResponseMessage? response = null;
        try
        {
            response = await _relay!.OpenAsync(location, CancellationToken.None);
            if (response is not null)
            {
                var spool = new InFlightSpool(key, _directory, response.Content.Headers.ContentLength ?? location.Length, location.Sha256);
                _ = PumpAsync(spool, response, location);
                return spool;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No room for the relay spool here: this node's requests wait for the stored file instead.
            response?.Dispose();
            LogRelaySpoolFailed(_logger, key, e.Message);
        }

        _relays.TryRemove(location.SpoolId, out _);
        return null;
    }

    private async Task PumpAsync(InFlightSpool spool, HttpResponseMessage response, SpoolLocation location)
    {
        try
        {
            await _relay!.CopyAsync(response, spool, location);
        }
        finally
        {
            _relays.TryRemove(location.SpoolId, out _);
            spool.Dispose(); // the writer's reference: the file goes when the last reader is done
        }
    }
}

/// <summary>A reader of a download in progress (on this node or relayed from another), and its length when upstream announced one.</summary>
public sealed record SpoolRead(Stream Content, long? Length) : IAsyncDisposable
{
    /// <summary>
    /// Every byte arrived and matched the published sha256 before this reader was opened: the whole file, its exact
    /// <see cref="Length"/>, only not committed to storage yet.
    /// </summary>
    public bool Verified { get; init; }

    public ValueTask DisposeAsync() => Content.DisposeAsync();
}

/// <summary>
/// Where a download in progress can be followed: its spool's id on the node that downloads it, that node's internal
/// base URL (null: it serves its spools to no other node), the length upstream announced and the sha256 the bytes must have.
/// </summary>
public sealed record SpoolLocation(string SpoolId, Uri? Node, long? Length, string? Sha256);
