using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Coordination;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Operations;
using OrleansCrates.Protocol;

namespace OrleansCrates.Server.Services;

/// <summary>
/// <c>Mirror:PrefetchDependencyIndexes</c>: after a client's request fetched an index file (a miss), the index files of
/// its newest version's dependencies (<see cref="IndexDependencies"/>) are looked up in the background through the
/// coordinator, the path a request takes (one upstream fetch per file across the cluster, the same memory), and each
/// one fetched now has its own dependencies looked up in turn. A warm file costs one memory lookup and goes no further.
/// Only crates cargo could be served: the policy's names, and never a name a private crate holds where the guard
/// blocks it (<see cref="MirrorReads.IsShadowedAsync"/>; upstream is not asked for those, as for a request). Bounded:
/// <see cref="Workers"/> steps at a time and <see cref="QueueLength"/> waiting; when the queue is full the rest is left
/// to cargo, which asks anyway.
/// </summary>
public sealed partial class DependencyIndexPrefetch(
    CrateCoordinator coordinator,
    MirrorPolicy policy,
    MirrorReads reads,
    IOptions<MirrorOptions> mirror,
    ILogger<DependencyIndexPrefetch> logger) : BackgroundService
{
    internal const int Workers = 8;
    internal const int QueueLength = 1024;

    /// <summary>Dependencies of one index file looked up at most (crates.io's widest crates list about a hundred).</summary>
    internal const int MaxPerIndexFile = 128;

    private readonly bool _enabled = mirror.Value.PrefetchDependencyIndexes && !mirror.Value.ReadRequiresToken;
    private readonly Channel<Step> _queue = Channel.CreateBounded<Step>(
        new BoundedChannelOptions(QueueLength) { FullMode = BoundedChannelFullMode.DropWrite, SingleWriter = false, SingleReader = false });

    private readonly WorkInFlight _pending = new(); // steps queued or running

    /// <summary>Completes when nothing is queued or running (for a test or a script that reads what was warmed).</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken) => _pending.WhenIdle.WaitAsync(cancellationToken);

    /// <summary>
    /// Called with every client's index answer: when it was fetched now, queues the file for a worker to read its
    /// dependencies. Nothing else is done here (a flag and an enum compared on the warm path).
    /// </summary>
    public void After(IndexResult result)
    {
        if (_enabled && result.Outcome == CacheOutcome.Miss && result.Entry?.Stored is { } stored)
        {
            TryQueue(new Step(null, stored.Body));
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        _enabled ? Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => WorkAsync(stoppingToken))) : Task.CompletedTask;

    private bool TryQueue(Step step)
    {
        _pending.Begin(); // before a worker can take it and end it
        if (_queue.Writer.TryWrite(step))
        {
            return true;
        }

        _pending.End();
        return false;
    }

    private async Task WorkAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var step in _queue.Reader.ReadAllAsync(stopping))
            {
                try
                {
                    if (step.Crate is { } name)
                    {
                        await LookUpAsync(name, stopping);
                    }
                    else
                    {
                        QueueDependencies(step.FetchedIndexFile);
                    }
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    LogFailed(logger, e, step.Crate is { } crate ? $"the index file of {crate}" : "reading a fetched index file's dependencies");
                }
                finally
                {
                    _pending.End(); // after the step queued what it found: idle only when the whole walk is over
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private void QueueDependencies(ReadOnlyMemory<byte> indexFile)
    {
        foreach (var dependency in IndexDependencies.OfNewest(indexFile, MaxPerIndexFile))
        {
            if (policy.EvaluateName(dependency) == PolicyVerdict.Visible && !TryQueue(new Step(dependency, default)))
            {
                return; // full: cargo asks for the rest itself
            }
        }
    }

    private async Task LookUpAsync(CrateName name, CancellationToken stopping)
    {
        if (await reads.IsShadowedAsync(name, stopping))
        {
            return;
        }

        var result = await coordinator.WarmIndexAsync(name, stopping);
        if (result.Outcome == CacheOutcome.Miss && result.Entry?.Stored is { } stored)
        {
            TryQueue(new Step(null, stored.Body)); // fetched now: its own dependencies are not in memory either
        }
    }

    /// <summary>One step of the walk: look up <see cref="Crate"/>'s index file, or (no crate) queue the dependencies of a fetched one.</summary>
    private readonly record struct Step(CrateName? Crate, ReadOnlyMemory<byte> FetchedIndexFile);

    [LoggerMessage(EventId = LogEvents.DependencyIndexPrefetchFailed, Level = LogLevel.Warning, Message = "Dependency index prefetch failed: {Step}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string step);
}
