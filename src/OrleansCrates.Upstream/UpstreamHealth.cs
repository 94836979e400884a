namespace OrleansCrates.Upstream;

public enum UpstreamState
{
    /// <summary>Not asked anything since this node started.</summary>
    Unknown,

    /// <summary>The last request got an answer (a "not found" is an answer).</summary>
    Up,

    /// <summary>The last request failed (refused, reset, timed out, 5xx, 429); skipped until its cool-down ends.</summary>
    Down,
}

/// <summary>What this node knows about one upstream right now (for the health output).</summary>
public sealed record UpstreamHealthSnapshot(
    UpstreamState State,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    TimeSpan? Latency,
    TimeSpan? SmoothedLatency,
    DateTimeOffset? CooldownUntil);

/// <summary>
/// One upstream's state on this node, in memory: up or down, the last error, the latency of the last answer and a
/// smoothed one, and until when a failed upstream is skipped (its cool-down). When a cool-down ends, exactly one request
/// gets to probe the upstream; the others keep skipping it until that probe reports. Thread-safe.
/// </summary>
public sealed class UpstreamHealth(TimeProvider time)
{
    /// <summary>Weight of the newest latency in the smoothed one (an exponentially weighted moving average).</summary>
    private const double Smoothing = 0.2;

    private readonly Lock _gate = new();
    private UpstreamState _state = UpstreamState.Unknown;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private TimeSpan? _latency;
    private double? _smoothedMilliseconds;
    private DateTimeOffset _cooldownUntil = DateTimeOffset.MinValue;

    /// <summary>
    /// Whether a request may ask this upstream now: always, unless it is down and cooling down. The first caller after a
    /// cool-down ends claims the probe, and the upstream stays skipped by others for <paramref name="probeWindow"/> or
    /// until the probe's outcome is recorded, whichever comes first.
    /// </summary>
    public bool TryClaim(TimeSpan probeWindow)
    {
        lock (_gate)
        {
            if (_state != UpstreamState.Down)
            {
                return true;
            }

            var now = time.GetUtcNow();
            if (now < _cooldownUntil)
            {
                return false;
            }

            _cooldownUntil = now + probeWindow;
            return true;
        }
    }

    /// <summary>The upstream answered (200, 304, or an authoritative "not found").</summary>
    public void RecordAnswer(TimeSpan latency)
    {
        lock (_gate)
        {
            _state = UpstreamState.Up;
            _cooldownUntil = DateTimeOffset.MinValue;
            RecordLatency(latency);
        }
    }

    /// <summary>The upstream could not answer: it is down and skipped for <paramref name="cooldown"/>.</summary>
    public void RecordFailure(string error, TimeSpan cooldown)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            _state = UpstreamState.Down;
            _lastError = error;
            _lastErrorAt = now;
            _cooldownUntil = now + cooldown;
        }
    }

    /// <summary>
    /// The upstream answered, but with something unusable for this one file (no such file, wrong bytes): it stays up
    /// (other files may be fine), and the error is remembered.
    /// </summary>
    public void RecordBadContent(string error, TimeSpan latency)
    {
        lock (_gate)
        {
            _state = UpstreamState.Up;
            _cooldownUntil = DateTimeOffset.MinValue;
            _lastError = error;
            _lastErrorAt = time.GetUtcNow();
            RecordLatency(latency);
        }
    }

    public UpstreamHealthSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new UpstreamHealthSnapshot(
                _state,
                _lastError,
                _lastErrorAt,
                _latency,
                _smoothedMilliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
                _state == UpstreamState.Down && _cooldownUntil > time.GetUtcNow() ? _cooldownUntil : null);
        }
    }

    private void RecordLatency(TimeSpan latency)
    {
        _latency = latency;
        _smoothedMilliseconds = _smoothedMilliseconds is { } previous
            ? previous + (Smoothing * (latency.TotalMilliseconds - previous))
            : latency.TotalMilliseconds;
    }
}
