using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Operations;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Services;

/// <summary>
/// <c>Mirror:PrefetchDependencyIndexes</c>: after a client's request fetched an index file (a miss), the index files of
/// its newest version's dependencies (<see cref="IndexDependencies"/>) are looked up in the background through the
/// coordinator, the path a request takes (one upstream fetch per file across the cluster, the same memory), and each
/// one fetched now has its own dependencies looked up in turn. A warm file costs one memory lookup and goes no further.
/// Only crates cargo could be served: the policy's names, and never a name a private crate holds where the guard
/// blocks it (upstream is not asked for those, as for a request). Bounded: <see cref="Workers"/> lookups at a time and
/// <see cref="QueueLength"/> waiting; when the queue is full the rest is left to cargo, which asks anyway.
/// </summary>
public sealed partial class DependencyIndexPrefetch(
    CrateCoordinator coordinator,
    MirrorPolicy policy,
    PrivateRegistry registry,
    IOptions<MirrorOptions> mirror,
    IOptions<PrivateRegistryOptions> privateRegistry,
    ILogger<DependencyIndexPrefetch> logger) : BackgroundService
{
    internal const int Workers = 8;
    internal const int QueueLength = 1024;

    /// <summary>Dependencies of one index file looked up at most (crates.io's widest crates list about a hundred).</summary>
    internal const int MaxPerIndexFile = 128;

    private readonly bool _enabled = mirror.Value.PrefetchDependencyIndexes && !mirror.Value.ReadRequiresToken;
    private readonly bool _guarded = privateRegistry.Value.ShadowPolicy == ShadowPolicy.Block;
    private readonly Channel<CrateName> _queue = Channel.CreateBounded<CrateName>(
        new BoundedChannelOptions(QueueLength) { FullMode = BoundedChannelFullMode.DropWrite, SingleWriter = false, SingleReader = false });

    private readonly Lock _gate = new();
    private int _pending; // queued or being looked up
    private TaskCompletionSource _idle = Idle();

    /// <summary>Completes when nothing is queued or being looked up (for a test or a script that reads what was warmed).</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        Task idle;
        lock (_gate)
        {
            idle = _idle.Task;
        }

        return idle.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Called with every client's index answer: when it was fetched now, queues its dependencies. Nothing else is done
    /// here (a flag and an enum compared on the warm path); reading the file's lines happens on a worker.
    /// </summary>
    public void After(IndexResult result)
    {
        if (_enabled && result.Outcome == CacheOutcome.Miss && result.Entry?.Stored is { } stored)
        {
            Queue(stored.Body);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        _enabled ? Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => WorkAsync(stoppingToken))) : Task.CompletedTask;

    private void Queue(ReadOnlyMemory<byte> indexFile)
    {
        foreach (var dependency in IndexDependencies.OfNewest(indexFile, MaxPerIndexFile))
        {
            if (policy.EvaluateName(dependency) == PolicyVerdict.Visible && !TryQueue(dependency))
            {
                return; // full: cargo asks for the rest itself
            }
        }
    }

    private bool TryQueue(CrateName name)
    {
        lock (_gate)
        {
            if (!_queue.Writer.TryWrite(name))
            {
                return false;
            }

            if (_pending++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return true;
        }
    }

    private void Done()
    {
        lock (_gate)
        {
            if (--_pending == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource Idle()
    {
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        idle.SetResult();
        return idle;
    }

    private async Task WorkAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var name in _queue.Reader.ReadAllAsync(stopping))
            {
                try
                {
                    await LookUpAsync(name, stopping);
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    LogFailed(logger, e, name.Value);
                }
                finally
                {
                    Done(); // after the lookup queued what it found: idle only when the whole walk is over
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task LookUpAsync(CrateName name, CancellationToken stopping)
    {
        if (_guarded && await registry.IsPrivateCrateAsync(name, stopping))
        {
            return;
        }

        var result = await coordinator.WarmIndexAsync(name, stopping);
        if (result.Outcome == CacheOutcome.Miss && result.Entry?.Stored is { } stored)
        {
            Queue(stored.Body); // fetched now: its own dependencies are not in memory either
        }
    }

    [LoggerMessage(EventId = LogEvents.DependencyIndexPrefetchFailed, Level = LogLevel.Warning, Message = "Prefetching the index file of {Crate} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string crate);
}
