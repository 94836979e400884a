using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansCrates.Server.Cli;

/// <summary>Plain tables and JSON lines for command output.</summary>
internal static class TextOutput
{
    /// <summary>Left-aligned columns separated by two spaces; the last column is not padded.</summary>
    public static async Task WriteTableAsync(TextWriter writer, string[] headers, IReadOnlyList<string[]> rows, CancellationToken cancellationToken)
    {
        var widths = headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var line = new StringBuilder();
        foreach (var row in rows.Prepend(headers))
        {
            line.Clear();
            for (var i = 0; i < row.Length; i++)
            {
                line.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            await writer.WriteLineAsync(line, cancellationToken);
        }
    }

    /// <summary>One JSON object on one line.</summary>
    public static async Task WriteJsonLineAsync(TextWriter writer, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        await using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }

        await writer.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan).AsMemory(), cancellationToken);
    }

    /// <summary><c>2025-01-31 12:00:00Z</c>.</summary>
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
