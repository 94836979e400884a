using Spectre.Console;

namespace OrleansCrates.Cli.Output;

/// <summary>
/// Progress of a long command on stderr with Spectre.Console: a bar on a terminal, cleared at the end so the report on
/// stdout stays clean; when stderr is redirected, Spectre's plain fallback. Any number of workers may advance it.
/// </summary>
internal sealed class CliProgress(ProgressTask task, string unit)
{
    private long _bytes;

    public long Total
    {
        set => task.MaxValue = Math.Max(1, value);
    }

    public void Advance() => task.Increment(1);

    public void AddBytes(long bytes)
    {
        var total = Interlocked.Add(ref _bytes, bytes);
        task.Description = $"{unit}, {TextOutput.FormatBytes(total)}";
    }

    /// <summary>Runs <paramref name="work"/> with a progress bar labelled <paramref name="label"/> counting <paramref name="unit"/>.</summary>
    public static async Task<T> RunAsync<T>(string label, string unit, Func<CliProgress, Task<T>> work)
    {
        var stderr = TextOutput.Create(Console.Error, Console.IsErrorRedirected);
        return await stderr.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask($"{label}: {unit}", maxValue: 1);
                var result = await work(new CliProgress(task, $"{label}: {unit}"));
                task.StopTask();
                return result;
            });
    }
}
