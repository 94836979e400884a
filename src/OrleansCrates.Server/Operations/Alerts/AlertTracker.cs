using System.Globalization;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Server.Operations.Alerts;

/// <summary>
/// Turns successive looks at storage and the upstreams into transitions, so each outage gives one alert and one
/// recovery, however many requests fail meanwhile. Storage: every failed check after a good one is "failed", the first
/// good check after that "recovered". Upstream: "failing" once every configured upstream has been down (as this node
/// last saw it) for <c>upstreamFailingFor</c>, counted from the first check that found them all down; "recovered" at
/// the first check after that which finds one answering. One upstream down while another answers is failover working,
/// not an outage, so it does not alert. Not thread-safe: one monitor loop owns it.
/// </summary>
internal sealed class AlertTracker(TimeSpan upstreamFailingFor, string node)
{
    private bool _storageFailed;
    private bool _storageWriteFailed;
    private long _writeFailuresSeen;
    private DateTimeOffset? _allUpstreamsDownSince;
    private bool _upstreamFailing;

    public Alert? ObserveStorage(StorageHealth health, DateTimeOffset now)
    {
        if (!health.Healthy && !_storageFailed)
        {
            _storageFailed = true;
            return new Alert(AlertEvents.StorageFailed, "storage", node, now, $"{health.Provider} storage is not usable: {health.Detail}");
        }

        if (health.Healthy && _storageFailed)
        {
            _storageFailed = false;
            return new Alert(AlertEvents.StorageRecovered, "storage", node, now, $"{health.Provider} storage is usable again: {health.Detail}");
        }

        return null;
    }

    /// <summary>
    /// Storage writes, apart from reads: "failed" when the write probe fails or requests' writes failed since the last
    /// look (a full disk, a quota); "recovered" at the first look after that with the probe working and no new failures.
    /// Only while storage can be read: an unreadable store is one outage, alerted by <see cref="ObserveStorage"/>.
    /// </summary>
    public Alert? ObserveStorageWrites(StorageHealth health, StorageWriteSnapshot writes, DateTimeOffset now)
    {
        var newFailures = writes.Failures - _writeFailuresSeen;
        _writeFailuresSeen = writes.Failures;
        if (!health.Healthy)
        {
            return null; // storage that cannot even be read is one outage, alerted as storage_failed
        }

        var failing = !health.Writable || newFailures > 0;
        if (failing && !_storageWriteFailed)
        {
            _storageWriteFailed = true;
            var cause = health.Writable ? writes.LastError : health.WriteDetail ?? writes.LastError;
            return new Alert(
                AlertEvents.StorageWriteFailed, "storage", node, now,
                $"{health.Provider} storage does not take writes: {cause ?? "write failed"} ({newFailures} failed writes since the last check)");
        }

        if (!failing && _storageWriteFailed)
        {
            _storageWriteFailed = false;
            return new Alert(AlertEvents.StorageWriteRecovered, "storage", node, now, $"{health.Provider} storage takes writes again");
        }

        return null;
    }

    public Alert? ObserveUpstreams(IReadOnlyList<UpstreamStatus> upstreams, DateTimeOffset now)
    {
        var allDown = upstreams.Count > 0 && upstreams.All(u => u.Health.State == UpstreamState.Down);
        if (allDown)
        {
            var since = _allUpstreamsDownSince ??= now;
            if (!_upstreamFailing && now - since >= upstreamFailingFor)
            {
                _upstreamFailing = true;
                var errors = string.Join("; ", upstreams.Select(u =>
                    $"{u.Name}: {u.Health.LastError ?? "failed"} (last failure {Format(u.Health.LastErrorAt)})"));
                return new Alert(
                    AlertEvents.UpstreamFailing, "upstream", node, now,
                    $"every upstream has been failing since {Format(since)}: {errors}");
            }

            return null;
        }

        _allUpstreamsDownSince = null;
        if (!_upstreamFailing)
        {
            return null;
        }

        _upstreamFailing = false;
        var answering = string.Join(", ", upstreams.Where(u => u.Health.State == UpstreamState.Up).Select(u => u.Name));
        return new Alert(AlertEvents.UpstreamRecovered, "upstream", node, now, $"upstream answers again: {answering}");
    }

    private static string Format(DateTimeOffset? at) => at?.ToString("O", CultureInfo.InvariantCulture) ?? "unknown";
}
