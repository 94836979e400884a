using System.Globalization;
using System.Text.Json;

namespace OrleansCrates.Core.Telemetry;

/// <summary>
/// A <see cref="MetricsSnapshot"/> as an OTLP <c>ExportMetricsServiceRequest</c> in the protobuf JSON mapping (OTLP/HTTP
/// with <c>Content-Type: application/json</c>): lowerCamelCase fields, 64-bit integers and nanosecond times as strings,
/// enums as numbers. Sums and histograms are cumulative (<c>aggregationTemporality</c> 2) from the collector's start.
/// </summary>
public static class OtlpJson
{
    public const string ContentType = "application/json";

    private const int CumulativeTemporality = 2;

    public static byte[] Serialize(MetricsSnapshot snapshot, IReadOnlyList<KeyValuePair<string, string>> resource)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            Write(json, snapshot, resource);
        }

        return buffer.ToArray();
    }

    public static void Write(Utf8JsonWriter json, MetricsSnapshot snapshot, IReadOnlyList<KeyValuePair<string, string>> resource)
    {
        var start = Nanos(snapshot.StartTime);
        var time = Nanos(snapshot.Time);
        json.WriteStartObject();
        json.WriteStartArray("resourceMetrics");
        json.WriteStartObject();
        json.WriteStartObject("resource");
        WriteAttributes(json, resource);
        json.WriteEndObject();
        json.WriteStartArray("scopeMetrics");

        var scopes = new List<string>();
        foreach (var family in snapshot.Families)
        {
            if (!scopes.Contains(family.MeterName))
            {
                scopes.Add(family.MeterName);
            }
        }

        foreach (var scope in scopes)
        {
            json.WriteStartObject();
            json.WriteStartObject("scope");
            json.WriteString("name", scope);
            foreach (var family in snapshot.Families)
            {
                if (family.MeterName == scope && family.MeterVersion is { } version)
                {
                    json.WriteString("version", version);
                    break;
                }
            }

            json.WriteEndObject();
            json.WriteStartArray("metrics");
            foreach (var family in snapshot.Families)
            {
                if (family.MeterName == scope)
                {
                    WriteMetric(json, family, start, time);
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteMetric(Utf8JsonWriter json, MetricFamily family, string start, string time)
    {
        json.WriteStartObject();
        json.WriteString("name", family.Name);
        if (family.Description is { } description)
        {
            json.WriteString("description", description);
        }

        if (family.Unit is { } unit)
        {
            json.WriteString("unit", unit);
        }

        json.WriteStartObject(family.Kind switch
        {
            MetricKind.Histogram => "histogram",
            MetricKind.Gauge => "gauge",
            _ => "sum",
        });
        json.WriteStartArray("dataPoints");
        foreach (var point in family.Points)
        {
            json.WriteStartObject();
            WriteAttributes(json, point.Labels);
            if (family.Kind != MetricKind.Gauge)
            {
                json.WriteString("startTimeUnixNano", start);
            }

            json.WriteString("timeUnixNano", time);
            if (family.Kind == MetricKind.Histogram)
            {
                json.WriteString("count", point.Count.ToString(CultureInfo.InvariantCulture));
                json.WriteNumber("sum", point.Sum);
                json.WriteStartArray("bucketCounts");
                foreach (var count in point.BucketCounts ?? [])
                {
                    json.WriteStringValue(count.ToString(CultureInfo.InvariantCulture));
                }

                json.WriteEndArray();
                json.WriteStartArray("explicitBounds");
                foreach (var bound in family.Bounds)
                {
                    json.WriteNumberValue(bound);
                }

                json.WriteEndArray();
            }
            else if (family.IsIntegral)
            {
                json.WriteString("asInt", ((long)point.Value).ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                json.WriteNumber("asDouble", point.Value);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (family.Kind != MetricKind.Gauge)
        {
            json.WriteNumber("aggregationTemporality", CumulativeTemporality);
        }

        if (family.Kind is MetricKind.Counter or MetricKind.UpDownCounter)
        {
            json.WriteBoolean("isMonotonic", family.Kind == MetricKind.Counter);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteAttributes(Utf8JsonWriter json, IReadOnlyList<KeyValuePair<string, string>> attributes)
    {
        json.WriteStartArray("attributes");
        foreach (var (key, value) in attributes)
        {
            json.WriteStartObject();
            json.WriteString("key", key);
            json.WriteStartObject("value");
            json.WriteString("stringValue", value);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static string Nanos(DateTimeOffset time) =>
        ((time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100).ToString(CultureInfo.InvariantCulture);
}
