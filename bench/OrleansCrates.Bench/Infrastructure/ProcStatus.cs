using System.Globalization;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>Memory figures of a Linux process from <c>/proc/PID/status</c>, in bytes.</summary>
internal readonly record struct MemorySample(long RssBytes, long PeakRssBytes);

/// <summary>Reads and resets a process's resident-set figures through procfs.</summary>
internal static class ProcStatus
{
    public static MemorySample Read(int pid)
    {
        string[] statusLines;
        try
        {
            statusLines = File.ReadAllLines($"/proc/{pid}/status");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BenchException($"Could not read /proc/{pid}/status: {ex.Message}", ex);
        }

        return new MemorySample(Field(statusLines, "VmRSS", pid), Field(statusLines, "VmHWM", pid));
    }

    /// <summary>Resets VmHWM to the current VmRSS (<c>echo 5 &gt; /proc/PID/clear_refs</c>).</summary>
    public static void ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BenchException($"Could not reset the peak RSS through /proc/{pid}/clear_refs: {ex.Message}", ex);
        }
    }

    private static long Field(string[] statusLines, string name, int pid)
    {
        var prefix = name + ":";
        foreach (var line in statusLines)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                // "VmHWM:\t  123456 kB"
                var parts = line[prefix.Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && parts[1] == "kB"
                    && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kilobytes))
                {
                    return kilobytes * 1024;
                }
            }
        }

        throw new BenchException($"/proc/{pid}/status has no readable {name} line");
    }
}
