using System.Globalization;
using System.Text;

namespace OrleansCrates.Server.Cli;

/// <summary>
/// Progress of a long command on stderr. When stderr is a terminal: one bar redrawn in place a few times a second and
/// erased at the end, so the report on stdout stays clean. Otherwise (redirected, CI logs): a plain line every
/// <see cref="PlainInterval"/>, so logs show the command is alive without filling up. Thread-safe: any number of
/// workers may <see cref="Advance"/> it.
/// </summary>
internal sealed class ProgressBar : IAsyncDisposable
{
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(150);
    private const int BarWidth = 28;

    private readonly TextWriter _stderr;
    private readonly string _label;
    private readonly string _unit;
    private readonly bool _terminal;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _done;
    private long _total;
    private long _bytes;
    private int _drawnWidth;

    private ProgressBar(TextWriter stderr, string label, string unit, bool terminal)
    {
        _stderr = stderr;
        _label = label;
        _unit = unit;
        _terminal = terminal;
        _loop = RunAsync();
    }

    /// <summary>Starts reporting. A bar only when <paramref name="stderr"/> is the process's stderr and that is a terminal.</summary>
    public static ProgressBar Start(TextWriter stderr, string label, string unit) =>
        new(stderr, label, unit, ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected);

    /// <summary>How many items there are in all; 0 while still unknown.</summary>
    public long Total
    {
        get => Interlocked.Read(ref _total);
        set => Interlocked.Exchange(ref _total, value);
    }

    public void Advance(long items = 1) => Interlocked.Add(ref _done, items);

    /// <summary>Bytes processed so far, shown beside the count when not zero.</summary>
    public void AddBytes(long bytes) => Interlocked.Add(ref _bytes, bytes);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        if (_terminal && _drawnWidth > 0)
        {
            await _stderr.WriteAsync("\r" + new string(' ', _drawnWidth) + "\r");
            await _stderr.FlushAsync();
        }
    }

    /// <summary>1.5 MB, 12 kB, 300 B (decimal units, as download tools print them).</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1_000_000_000 => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " GB",
        >= 1_000_000 => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        >= 1_000 => (bytes / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_terminal ? TerminalInterval : PlainInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                await DrawAsync();
            }
        }
        catch (OperationCanceledException)
        {
            // Done.
        }
    }

    private async Task DrawAsync()
    {
        var done = Interlocked.Read(ref _done);
        var total = Total;
        var bytes = Interlocked.Read(ref _bytes);
        var text = new StringBuilder(_label).Append(' ');
        if (_terminal && total > 0)
        {
            var filled = (int)Math.Clamp(done * BarWidth / total, 0, BarWidth);
            text.Append('[').Append('#', filled).Append('.', BarWidth - filled).Append("] ");
        }
        else if (!_terminal)
        {
            text.Insert(_label.Length, ':');
        }

        text.Append(CultureInfo.InvariantCulture, $"{done}");
        if (total > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"/{total}");
        }

        text.Append(' ').Append(_unit);
        if (bytes > 0)
        {
            text.Append(", ").Append(FormatBytes(bytes));
        }

        if (!_terminal)
        {
            await _stderr.WriteLineAsync(text.ToString());
            return;
        }

        var width = TerminalWidth();
        var line = text.Length >= width ? text.ToString(0, Math.Max(0, width - 1)) : text.ToString();
        var padding = Math.Max(0, _drawnWidth - line.Length);
        await _stderr.WriteAsync("\r" + line + new string(' ', padding));
        await _stderr.FlushAsync();
        _drawnWidth = line.Length;
    }

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth > 10 ? Console.WindowWidth : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }
}
