using System.Globalization;
using System.Text;

namespace OrleansCrates.Core.Telemetry;

/// <summary>
/// The Prometheus text exposition format, version 0.0.4: <c># HELP</c> and <c># TYPE</c> before each family, counters
/// named with <c>_total</c>, histograms as cumulative <c>_bucket{le="…"}</c> series ending at <c>+Inf</c> plus
/// <c>_sum</c> and <c>_count</c>. Names and label names are reduced to Prometheus' character set; label values and help
/// text are escaped.
/// </summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Format(MetricsSnapshot snapshot)
    {
        var output = new StringBuilder(8192);
        Write(snapshot, output);
        return output.ToString();
    }

    public static void Write(MetricsSnapshot snapshot, StringBuilder output)
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (var family in snapshot.Families)
        {
            var name = MetricName(family.Name);
            if (family.Kind == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
            {
                name += "_total";
            }

            if (!written.Add(name))
            {
                continue; // two instruments of one name (two meters): the first one speaks for the name
            }

            output.Append("# HELP ").Append(name).Append(' ');
            AppendEscaped(output, string.IsNullOrEmpty(family.Description) ? family.Name : family.Description, escapeQuotes: false);
            output.Append('\n');
            output.Append("# TYPE ").Append(name).Append(' ').Append(family.Kind switch
            {
                MetricKind.Counter => "counter",
                MetricKind.Histogram => "histogram",
                _ => "gauge",
            }).Append('\n');

            foreach (var point in family.Points)
            {
                if (family.Kind != MetricKind.Histogram)
                {
                    AppendSample(output, name, "", point.Labels, null, point.Value);
                    continue;
                }

                long cumulative = 0;
                var counts = point.BucketCounts ?? [];
                for (var i = 0; i < counts.Count; i++)
                {
                    cumulative += counts[i];
                    var le = i < family.Bounds.Count ? FormatValue(family.Bounds[i]) : "+Inf";
                    AppendSample(output, name, "_bucket", point.Labels, le, cumulative);
                }

                AppendSample(output, name, "_sum", point.Labels, null, point.Sum);
                AppendSample(output, name, "_count", point.Labels, null, point.Count);
            }
        }
    }

    /// <summary>A metric name in <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>: anything else becomes <c>_</c>.</summary>
    public static string MetricName(string name) => Sanitize(name, allowColon: true);

    /// <summary>A label name in <c>[a-zA-Z_][a-zA-Z0-9_]*</c>: anything else becomes <c>_</c>.</summary>
    public static string LabelName(string name) => Sanitize(name, allowColon: false);

    /// <summary>Numbers as Prometheus reads them: shortest round-trip form, <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.</summary>
    public static string FormatValue(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" :
        double.IsNegativeInfinity(value) ? "-Inf" :
        double.IsNaN(value) ? "NaN" :
        value.ToString("R", CultureInfo.InvariantCulture);

    private static void AppendSample(
        StringBuilder output, string name, string suffix, IReadOnlyList<KeyValuePair<string, string>> labels, string? le, double value)
    {
        output.Append(name).Append(suffix);
        if (labels.Count > 0 || le is not null)
        {
            output.Append('{');
            var first = true;
            foreach (var (key, text) in labels)
            {
                if (le is not null && key == "le")
                {
                    continue; // the bucket bound owns "le"
                }

                output.Append(first ? "" : ",").Append(LabelName(key)).Append("=\"");
                AppendEscaped(output, text, escapeQuotes: true);
                output.Append('"');
                first = false;
            }

            if (le is not null)
            {
                output.Append(first ? "" : ",").Append("le=\"").Append(le).Append('"');
            }

            output.Append('}');
        }

        output.Append(' ').Append(FormatValue(value)).Append('\n');
    }

    private static void AppendEscaped(StringBuilder output, string text, bool escapeQuotes)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\':
                    output.Append("\\\\");
                    break;
                case '\n':
                    output.Append("\\n");
                    break;
                case '"' when escapeQuotes:
                    output.Append("\\\"");
                    break;
                default:
                    output.Append(c);
                    break;
            }
        }
    }

    private static string Sanitize(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return "_";
        }

        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            var ok = char.IsAsciiLetter(c) || c == '_' || (allowColon && c == ':') || (i > 0 && char.IsAsciiDigit(c));
            if (!ok)
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }
}
