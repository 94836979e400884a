using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace OrleansCrates.Testing;

/// <summary>
/// A strict parser of the Prometheus text format 0.0.4, for tests: every line is <c># HELP</c>, <c># TYPE</c> or a
/// sample; names and label names are valid; label values are properly escaped; values are numbers (or +Inf, -Inf,
/// NaN); each family is typed once, before its samples; no sample (name plus labels) appears twice; histogram buckets
/// are cumulative and end at <c>+Inf</c> equal to <c>_count</c>. Anything else throws <see cref="FormatException"/>
/// naming the line.
/// </summary>
public sealed partial class PrometheusScrape
{
    private readonly Dictionary<string, double> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _help = new(StringComparer.Ordinal);

    private PrometheusScrape()
    {
    }

    /// <summary>Family name → type.</summary>
    public IReadOnlyDictionary<string, string> Types => _types;

    public IReadOnlyDictionary<string, string> Help => _help;

    /// <summary>Every sample, keyed <c>name{a="1",b="2"}</c> with labels sorted by name.</summary>
    public IReadOnlyDictionary<string, double> Samples => _samples;

    public static PrometheusScrape Parse(string text)
    {
        var scrape = new PrometheusScrape();
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the exposition must end with a newline");
        }

        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length - 1; i++)
        {
            try
            {
                scrape.ParseLine(lines[i]);
            }
            catch (FormatException e)
            {
                throw new FormatException($"line {i + 1} '{lines[i]}': {e.Message}", e);
            }
        }

        scrape.CheckHistograms();
        return scrape;
    }

    /// <summary>The sample's value, or 0 when it is absent (a counter that has not moved yet).</summary>
    public double Value(string name, params (string Name, string Value)[] labels) =>
        _samples.TryGetValue(Key(name, labels.Select(l => new KeyValuePair<string, string>(l.Name, l.Value))), out var value) ? value : 0;

    /// <summary>The sum of every sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public double Sum(string name, params (string Name, string Value)[] labels)
    {
        var total = 0.0;
        foreach (var (key, value) in _samples)
        {
            var brace = key.IndexOf('{', StringComparison.Ordinal);
            var sampleName = brace < 0 ? key : key[..brace];
            if (sampleName == name && labels.All(l => key.Contains($"{l.Name}=\"{Escape(l.Value)}\"", StringComparison.Ordinal)))
            {
                total += value;
            }
        }

        return total;
    }

    private void ParseLine(string line)
    {
        if (line.StartsWith('#'))
        {
            var match = CommentLine().Match(line);
            if (!match.Success)
            {
                throw new FormatException("a comment line must be '# HELP name text' or '# TYPE name type'");
            }

            var name = match.Groups["name"].Value;
            if (match.Groups["kind"].Value == "HELP")
            {
                if (!_help.TryAdd(name, match.Groups["rest"].Value))
                {
                    throw new FormatException($"second HELP for {name}");
                }

                return;
            }

            if (match.Groups["rest"].Value is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
            {
                throw new FormatException($"unknown type '{match.Groups["rest"].Value}'");
            }

            if (_samples.Keys.Any(k => FamilyOf(k) == name))
            {
                throw new FormatException($"TYPE for {name} after its samples");
            }

            if (!_types.TryAdd(name, match.Groups["rest"].Value))
            {
                throw new FormatException($"second TYPE for {name}");
            }

            return;
        }

        var sample = SampleLine().Match(line);
        if (!sample.Success)
        {
            throw new FormatException("not a sample line 'name{labels} value'");
        }

        var labels = new List<KeyValuePair<string, string>>();
        if (sample.Groups["labels"].Success && sample.Groups["labels"].Value.Length > 0)
        {
            var body = sample.Groups["labels"].Value;
            var position = 0;
            while (position < body.Length)
            {
                var label = LabelPair().Match(body, position);
                if (!label.Success || label.Index != position)
                {
                    throw new FormatException($"bad label at '{body[position..]}'");
                }

                labels.Add(new(label.Groups["name"].Value, Unescape(label.Groups["value"].Value)));
                position += label.Length;
                if (position < body.Length)
                {
                    if (body[position] != ',')
                    {
                        throw new FormatException("labels must be separated by ','");
                    }

                    position++;
                }
            }
        }

        if (labels.Select(l => l.Key).Distinct(StringComparer.Ordinal).Count() != labels.Count)
        {
            throw new FormatException("a label appears twice");
        }

        var value = sample.Groups["value"].Value;
        if (value is not ("+Inf" or "-Inf" or "NaN") &&
            !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            throw new FormatException($"value '{value}' is not a number");
        }

        var key = Key(sample.Groups["name"].Value, labels);
        if (!_types.ContainsKey(FamilyOf(key)))
        {
            throw new FormatException($"sample of {sample.Groups["name"].Value} without a TYPE line for its family");
        }

        if (!_samples.TryAdd(key, value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
            }))
        {
            throw new FormatException($"duplicate sample {key}");
        }
    }

    private string FamilyOf(string key)
    {
        var brace = key.IndexOf('{', StringComparison.Ordinal);
        var name = brace < 0 ? key : key[..brace];
        if (_types.ContainsKey(name))
        {
            return name;
        }

        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && _types.TryGetValue(name[..^suffix.Length], out var type) && type is "histogram" or "summary")
            {
                return name[..^suffix.Length];
            }
        }

        return name;
    }

    private void CheckHistograms()
    {
        foreach (var (family, type) in _types)
        {
            if (type != "histogram")
            {
                continue;
            }

            var series = _samples.Keys
                .Where(k => k.StartsWith(family + "_bucket{", StringComparison.Ordinal))
                .GroupBy(k => WithoutLe(k[(family.Length + "_bucket".Length)..]), StringComparer.Ordinal);
            foreach (var group in series)
            {
                var buckets = group
                    .Select(k => (Le: ParseLe(LeLabel().Match(k).Groups["le"].Value), Count: _samples[k]))
                    .OrderBy(b => b.Le)
                    .ToList();
                for (var i = 1; i < buckets.Count; i++)
                {
                    if (buckets[i].Count < buckets[i - 1].Count)
                    {
                        throw new FormatException($"{family}{group.Key}: buckets are not cumulative");
                    }
                }

                var labels = group.Key;
                if (buckets.Count == 0 || !double.IsPositiveInfinity(buckets[^1].Le))
                {
                    throw new FormatException($"{family}{labels}: no +Inf bucket");
                }

                if (!_samples.TryGetValue(family + "_count" + labels, out var count) || count != buckets[^1].Count ||
                    !_samples.ContainsKey(family + "_sum" + labels))
                {
                    throw new FormatException($"{family}{labels}: _count must equal the +Inf bucket, and _sum must be there");
                }
            }
        }
    }

    private static string WithoutLe(string labels)
    {
        var rest = LeLabel().Replace(labels, "").Replace("{,", "{", StringComparison.Ordinal);
        return rest == "{}" ? "" : rest;
    }

    private static double ParseLe(string le) =>
        le == "+Inf" ? double.PositiveInfinity : double.Parse(le, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static string Key(string name, IEnumerable<KeyValuePair<string, string>> labels)
    {
        var sorted = labels.OrderBy(l => l.Key, StringComparer.Ordinal).ToList();
        return sorted.Count == 0 ? name : name + "{" + string.Join(",", sorted.Select(l => $"{l.Key}=\"{Escape(l.Value)}\"")) + "}";
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Unescape(string value)
    {
        var result = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\')
            {
                result.Append(value[i]);
                continue;
            }

            result.Append(++i < value.Length ? value[i] switch
            {
                '\\' => '\\',
                '"' => '"',
                'n' => '\n',
                var other => throw new FormatException($"unknown escape '\\{other}'"),
            } : throw new FormatException("dangling backslash"));
        }

        return result.ToString();
    }

    [GeneratedRegex(@"^# (?<kind>HELP|TYPE) (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?<rest>.*)$")]
    private static partial Regex CommentLine();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^\n]*)\})? (?<value>\S+)$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<name>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\\n]|\\.)*)""")]
    private static partial Regex LabelPair();

    [GeneratedRegex(@",?le=""(?<le>[^""]*)""")]
    private static partial Regex LeLabel();
}
