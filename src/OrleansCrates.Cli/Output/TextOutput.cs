using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OrleansCrates.Cli.Output;

/// <summary>Tables (Spectre.Console) and JSON lines for command output, always on stdout; notes on stderr.</summary>
internal static class TextOutput
{
    internal static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
        });
        if (redirected)
        {
            console.Profile.Width = 4096;
        }

        return console;
    }

    /// <summary>A header row and left-aligned columns, no borders: <c>ID  USER  SCOPE ...</c>.</summary>
    public static void WriteTable(string[] headers, IEnumerable<string[]> rows)
    {
        var table = new Table { Border = TableBorder.None, ShowHeaders = true };
        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(new Text(header)) { Padding = new Padding(0, 0, 2, 0), NoWrap = true });
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => (IRenderable)new Text(cell)));
        }

        // Rendered as plain text, then written without the cells' trailing padding. Redirected (a pipe, a file, a
        // test) there is no wrapping, so every row stays one line that scripts can split on whitespace.
        using var text = new StringWriter();
        var console = Create(text, redirected: true);
        if (!Console.IsOutputRedirected)
        {
            console.Profile.Width = Console.WindowWidth;
        }

        console.Write(table);
        foreach (var line in text.ToString().Split('\n'))
        {
            if (line.TrimEnd() is { Length: > 0 } trimmed)
            {
                Console.Out.WriteLine(trimmed);
            }
        }
    }

    /// <summary>One JSON object on one line.</summary>
    public static async Task WriteJsonLineAsync(Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        await using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }

        await Console.Out.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan).AsMemory(), cancellationToken);
    }

    /// <summary>A line of a command's result on stdout.</summary>
    public static Task WriteLineAsync(string line, CancellationToken cancellationToken) =>
        Console.Out.WriteLineAsync(line.AsMemory(), cancellationToken);

    /// <summary>A note for the operator on stderr.</summary>
    public static Task NoteAsync(string line) => Console.Error.WriteLineAsync(line);

    /// <summary><c>2025-01-31 12:00:00Z</c>.</summary>
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary><c>1 file</c>, <c>2 files</c>.</summary>
    public static string Plural(long count, string noun) =>
        count.ToString(CultureInfo.InvariantCulture) + " " + (count == 1 ? noun : noun + "s");

    /// <summary>1.5 MB, 12 kB, 300 B (decimal units, as download tools print them).</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1_000_000_000 => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " GB",
        >= 1_000_000 => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        >= 1_000 => (bytes / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
