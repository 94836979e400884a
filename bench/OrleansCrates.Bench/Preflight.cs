using System.Runtime.InteropServices;
using OrleansCrates.Bench.Infrastructure;
using OrleansCrates.Bench.Reporting;

namespace OrleansCrates.Bench;

/// <summary>What the machine is, for the report header, and which tools are missing.</summary>
internal static class Preflight
{
    public static async Task DescribeEnvironmentAsync(BenchReport report, BenchOptions options, CancellationToken cancellationToken)
    {
        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? (await File.ReadAllTextAsync("/proc/sys/kernel/osrelease", cancellationToken)).Trim() : "?";
        report.Environment.Add($"machine: {Environment.ProcessorCount} cores, {TotalMemory()}, Linux {kernel}, {RuntimeInformation.FrameworkDescription}");
        report.Environment.Add($"tools: {await VersionAsync("nginx", ["-v"], cancellationToken)}; {await VersionAsync("wrk", ["-v"], cancellationToken)}");
        report.Environment.Add($"mirror: {options.ServerDll}{(File.Exists(options.ServerDll) ? $" (built {File.GetLastWriteTimeUtc(options.ServerDll):yyyy-MM-dd HH:mm}Z)" : " (MISSING)")}");
        report.Environment.Add($"load average (1/5/15 min) at start: {LoadAverage()} — anything else running skews the figures");
        if (options.MirrorEnvironment.Count > 0)
        {
            report.Environment.Add($"mirror extra environment: {string.Join(", ", options.MirrorEnvironment.Select(kv => $"{kv.Key}={kv.Value}"))}");
        }
    }

    /// <summary>Null when every tool is on PATH, else which are missing (bench/run.sh installs them).</summary>
    public static string? MissingTools(params string[] tools)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries);
        var missing = tools.Where(t => !path.Any(dir => File.Exists(Path.Combine(dir, t)))).ToList();
        return missing.Count == 0 ? null : $"not on PATH: {string.Join(", ", missing)} (bench/run.sh installs them)";
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string TotalMemory()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kb = long.Parse(line!.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
            return $"{kb / 1024.0 / 1024.0:0.0} GB RAM";
        }
        catch (Exception ex) when (ex is IOException or FormatException or NullReferenceException or IndexOutOfRangeException)
        {
            return "? RAM";
        }
    }

    private static async Task<string> VersionAsync(string tool, string[] arguments, CancellationToken cancellationToken)
    {
        try
        {
            var (_, stdout, stderr) = await ChildProcess.RunAsync(tool, tool, arguments, TimeSpan.FromSeconds(10), cancellationToken);
            var text = (stdout + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim();
            return string.IsNullOrEmpty(text) ? $"{tool} (version unknown)" : text;
        }
        catch (BenchException)
        {
            return $"{tool} not found";
        }
    }
}
