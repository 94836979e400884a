using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;

namespace OrleansCrates.Core.Telemetry;

public enum MetricKind
{
    /// <summary>A monotonic sum (Counter, ObservableCounter): Prometheus <c>counter</c>, OTLP monotonic cumulative sum.</summary>
    Counter,

    /// <summary>A sum that goes up and down (UpDownCounter, ObservableUpDownCounter): Prometheus <c>gauge</c>.</summary>
    UpDownCounter,

    /// <summary>The last value (Gauge, ObservableGauge).</summary>
    Gauge,

    /// <summary>Explicit-bucket histogram, cumulative.</summary>
    Histogram,
}

/// <summary>One series: its labels (sorted by name) and its cumulative value or histogram.</summary>
/// <param name="BucketCounts">Histogram only: the count in each bucket (not cumulative), one more than the bounds (the last is +Inf).</param>
public sealed record MetricPoint(IReadOnlyList<KeyValuePair<string, string>> Labels, double Value, long Count = 0, double Sum = 0, IReadOnlyList<long>? BucketCounts = null);

/// <summary>One instrument's series at the time of a collection.</summary>
public sealed record MetricFamily(
    string Name,
    string? Description,
    string? Unit,
    MetricKind Kind,
    bool IsIntegral,
    IReadOnlyList<double> Bounds,
    IReadOnlyList<MetricPoint> Points,
    string MeterName,
    string? MeterVersion);

/// <summary>Everything collected at <see cref="Time"/>; cumulative since <see cref="StartTime"/>.</summary>
public sealed record MetricsSnapshot(DateTimeOffset StartTime, DateTimeOffset Time, IReadOnlyList<MetricFamily> Families);

/// <summary>
/// Aggregates the measurements of the given meters in memory with a <see cref="MeterListener"/>: counters and
/// up-down counters as cumulative sums, histograms as cumulative explicit buckets (the instrument's advice, else
/// <see cref="OrleansCratesMetrics.SecondsBuckets"/>), gauges as the last value. Observable instruments are read on
/// <see cref="Collect"/>. Measuring costs one lookup of the tag values (no allocation once a series exists); a
/// series is created once per new label set, up to <see cref="MaxSeriesPerInstrument"/>, after which measurements go
/// to one series labelled <c>otel_metric_overflow="true"</c> (as the OpenTelemetry SDK does).
/// </summary>
public sealed class MetricsCollector : IDisposable
{
    public const int MaxSeriesPerInstrument = 2000;

    private readonly MeterListener _listener;
    private readonly HashSet<Meter> _meters;
    private readonly HashSet<string> _meterNames;
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();
    private readonly Lock _collectGate = new();
    private readonly TimeProvider _time;

    public MetricsCollector(OrleansCratesMetrics metrics, TimeProvider time, IEnumerable<string>? otherMeterNames = null)
        : this([metrics.Meter], time, otherMeterNames)
    {
    }

    /// <summary>
    /// Listens to exactly these meters (by reference: another meter of the same name is not collected), and to every
    /// meter named in <paramref name="otherMeterNames"/> (a library's own, e.g. Orleans' <c>Microsoft.Orleans</c>).
    /// </summary>
    public MetricsCollector(IEnumerable<Meter> meters, TimeProvider? time = null, IEnumerable<string>? otherMeterNames = null)
    {
        _meters = [.. meters];
        _meterNames = [.. otherMeterNames ?? []];
        _time = time ?? TimeProvider.System;
        StartTime = _time.GetUtcNow();
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (_meters.Contains(instrument.Meter) || _meterNames.Contains(instrument.Meter.Name))
                {
                    listener.EnableMeasurementEvents(instrument, _instruments.GetOrAdd(instrument, static i => new InstrumentState(i)));
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.Start();
    }

    public DateTimeOffset StartTime { get; }

    /// <summary>Reads the observable instruments and returns every series, families ordered by name.</summary>
    public MetricsSnapshot Collect()
    {
        lock (_collectGate)
        {
            _listener.RecordObservableInstruments();
            var families = new List<MetricFamily>(_instruments.Count);
            foreach (var state in _instruments.Values)
            {
                families.Add(state.Snapshot());
            }

            families.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            return new MetricsSnapshot(StartTime, _time.GetUtcNow(), families);
        }
    }

    public void Dispose() => _listener.Dispose();

    private sealed class InstrumentState
    {
        private static readonly KeyValuePair<string, string>[] OverflowLabels = [new("otel_metric_overflow", "true")];

        private readonly Instrument _instrument;
        private readonly MetricKind _kind;
        private readonly bool _isIntegral;
        private readonly bool _replaces;
        private readonly double[] _bounds;
        private readonly ConcurrentDictionary<TagKey, Series> _byTags = new();
        private readonly Dictionary<string, Series> _byLabels = new(StringComparer.Ordinal);
        private readonly Lock _gate = new();

        public InstrumentState(Instrument instrument)
        {
            _instrument = instrument;
            var type = instrument.GetType();
            var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            _kind =
                definition == typeof(Counter<>) || definition == typeof(ObservableCounter<>) ? MetricKind.Counter :
                definition == typeof(Histogram<>) ? MetricKind.Histogram :
                definition == typeof(UpDownCounter<>) || definition == typeof(ObservableUpDownCounter<>) ? MetricKind.UpDownCounter :
                MetricKind.Gauge;
            var valueType = type.IsGenericType ? type.GetGenericArguments()[0] : typeof(double);
            _isIntegral = valueType == typeof(long) || valueType == typeof(int) || valueType == typeof(short) || valueType == typeof(byte);
            // Observable instruments report totals, and a gauge its latest value: those replace; the rest add up.
            _replaces = instrument.IsObservable || _kind == MetricKind.Gauge;
            _bounds = _kind != MetricKind.Histogram ? [] : [.. AdviceOf(instrument) ?? OrleansCratesMetrics.SecondsBuckets];
        }

        public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Record((double)value, value, tags);

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => Record(value, 0, tags);

        public MetricFamily Snapshot()
        {
            Series[] all;
            lock (_gate)
            {
                all = [.. _byLabels.Values];
            }

            var points = new MetricPoint[all.Length];
            for (var i = 0; i < all.Length; i++)
            {
                points[i] = all[i].ToPoint();
            }

            Array.Sort(points, static (a, b) => string.CompareOrdinal(LabelText(a.Labels), LabelText(b.Labels)));
            return new MetricFamily(
                _instrument.Name, _instrument.Description, _instrument.Unit, _kind, _isIntegral, _bounds, points, _instrument.Meter.Name, _instrument.Meter.Version);
        }

        private void Record(double value, long integral, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = Find(tags);
            if (_kind == MetricKind.Histogram)
            {
                series.Observe(value, _bounds);
            }
            else if (_replaces)
            {
                series.Set(value);
            }
            else if (_isIntegral)
            {
                series.Add(integral);
            }
            else
            {
                series.Add(value);
            }
        }

        private Series Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = new TagKey(tags);
            return _byTags.TryGetValue(key, out var series) ? series : Create(key, tags);
        }

        private Series Create(TagKey key, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = new KeyValuePair<string, string>[tags.Length];
            for (var i = 0; i < tags.Length; i++)
            {
                labels[i] = new(tags[i].Key, tags[i].Value switch
                {
                    null => "",
                    string s => s,
                    bool b => b ? "true" : "false",
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    var other => other.ToString() ?? "",
                });
            }

            Array.Sort(labels, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            var text = LabelText(labels);
            lock (_gate)
            {
                if (!_byLabels.TryGetValue(text, out var series))
                {
                    if (_byLabels.Count >= MaxSeriesPerInstrument)
                    {
                        text = LabelText(OverflowLabels);
                        labels = OverflowLabels;
                        if (_byLabels.TryGetValue(text, out var overflow))
                        {
                            return overflow; // not remembered by tags: the overflow set must not grow the tag table
                        }
                    }

                    series = new Series(labels, _kind == MetricKind.Histogram ? _bounds.Length + 1 : 0);
                    _byLabels.Add(text, series);
                }

                if (_byLabels.Count <= MaxSeriesPerInstrument)
                {
                    _byTags.TryAdd(key, series);
                }

                return series;
            }
        }

        private static string LabelText(IReadOnlyList<KeyValuePair<string, string>> labels)
        {
            var parts = new string[labels.Count];
            for (var i = 0; i < parts.Length; i++)
            {
                parts[i] = labels[i].Key + "\u0001" + labels[i].Value;
            }

            return string.Join('\u0002', parts);
        }

        private static IReadOnlyList<double>? AdviceOf(Instrument instrument) => instrument switch
        {
            Histogram<double> h => h.Advice?.HistogramBucketBoundaries,
            Histogram<float> h => Convert(h.Advice?.HistogramBucketBoundaries, static v => v),
            Histogram<long> h => Convert(h.Advice?.HistogramBucketBoundaries, static v => v),
            Histogram<int> h => Convert(h.Advice?.HistogramBucketBoundaries, static v => v),
            _ => null,
        };

        private static double[]? Convert<T>(IReadOnlyList<T>? values, Func<T, double> convert)
        {
            if (values is null)
            {
                return null;
            }

            var result = new double[values.Count];
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = convert(values[i]);
            }

            return result;
        }
    }

    private sealed class Series(KeyValuePair<string, string>[] labels, int buckets)
    {
        private readonly long[] _buckets = buckets > 0 ? new long[buckets] : [];
        private long _integral;
        private double _value;
        private double _sum;

        public void Add(long value) => Interlocked.Add(ref _integral, value);

        public void Add(double value) => AddTo(ref _value, value);

        public void Set(double value)
        {
            Volatile.Write(ref _integral, 0);
            Volatile.Write(ref _value, value);
        }

        public void Observe(double value, double[] bounds)
        {
            var bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket])
            {
                bucket++;
            }

            Interlocked.Increment(ref _buckets[bucket]);
            AddTo(ref _sum, value);
        }

        public MetricPoint ToPoint()
        {
            if (_buckets.Length == 0)
            {
                return new MetricPoint(labels, Volatile.Read(ref _integral) + Volatile.Read(ref _value));
            }

            // The count is the buckets' total, so _count always equals the +Inf bucket.
            var counts = new long[_buckets.Length];
            long count = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                counts[i] = Volatile.Read(ref _buckets[i]);
                count += counts[i];
            }

            return new MetricPoint(labels, 0, count, Volatile.Read(ref _sum), counts);
        }

        private static void AddTo(ref double location, double value)
        {
            var current = Volatile.Read(ref location);
            while (true)
            {
                var seen = Interlocked.CompareExchange(ref location, current + value, current);
                if (seen.Equals(current))
                {
                    return;
                }

                current = seen;
            }
        }
    }

    /// <summary>
    /// The tag names and values of one measurement, compared by value, without copying them for the common case of up
    /// to three tags (a lookup allocates nothing). Tags in another order are another key for the same series.
    /// </summary>
    private readonly struct TagKey : IEquatable<TagKey>
    {
        private readonly KeyValuePair<string, object?> _a;
        private readonly KeyValuePair<string, object?> _b;
        private readonly KeyValuePair<string, object?> _c;
        private readonly KeyValuePair<string, object?>[]? _more;
        private readonly int _count;
        private readonly int _hash;

        public TagKey(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            _count = tags.Length;
            var hash = new HashCode();
            foreach (var tag in tags)
            {
                hash.Add(tag.Key);
                hash.Add(tag.Value);
            }

            _hash = hash.ToHashCode();
            if (_count > 3)
            {
                _more = tags.ToArray();
                return;
            }

            _a = _count > 0 ? tags[0] : default;
            _b = _count > 1 ? tags[1] : default;
            _c = _count > 2 ? tags[2] : default;
        }

        public bool Equals(TagKey other)
        {
            if (_hash != other._hash || _count != other._count)
            {
                return false;
            }

            if (_more is not null)
            {
                for (var i = 0; i < _more.Length; i++)
                {
                    if (!Same(_more[i], other._more![i]))
                    {
                        return false;
                    }
                }

                return true;
            }

            return Same(_a, other._a) && Same(_b, other._b) && Same(_c, other._c);
        }

        public override bool Equals(object? obj) => obj is TagKey other && Equals(other);

        public override int GetHashCode() => _hash;

        private static bool Same(KeyValuePair<string, object?> x, KeyValuePair<string, object?> y) =>
            string.Equals(x.Key, y.Key, StringComparison.Ordinal) && Equals(x.Value, y.Value);
    }
}
