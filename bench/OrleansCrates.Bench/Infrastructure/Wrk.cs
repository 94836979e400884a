using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>The figures parsed from one wrk run.</summary>
internal sealed record WrkResult(
    double RequestsPerSecond,
    double TransferBytesPerSecond,
    TimeSpan? LatencyP50,
    TimeSpan? LatencyP99,
    long Requests,
    long Non2xx3xx,
    long SocketErrors,
    string RawOutput)
{
    /// <summary>Null when every request succeeded, else a short description of what went wrong.</summary>
    public string? Errors
    {
        get
        {
            var parts = new List<string>();
            if (Requests == 0)
            {
                parts.Add("no completed requests");
            }

            if (Non2xx3xx > 0)
            {
                parts.Add($"{Non2xx3xx} non-2xx/3xx");
            }

            if (SocketErrors > 0)
            {
                parts.Add($"{SocketErrors} socket errors");
            }

            return parts.Count == 0 ? null : string.Join(", ", parts);
        }
    }
}

/// <summary>Runs <c>wrk -tT -cC -dDs --latency URL</c> (T = wrk's cores, at most C) on wrk's cores and parses its report.</summary>
internal static partial class Wrk
{
    /// <param name="header">One request header to send (<c>Name: value</c>), if any.</param>
    /// <param name="timeoutSeconds">wrk's per-request timeout (its default is 2 s; a loaded machine exceeds it).</param>
    public static async Task<WrkResult> RunAsync(string url, int connections, int durationSeconds, CpuPinning pinning, CancellationToken cancellationToken, string? header = null, int? timeoutSeconds = null)
    {
        var threads = Math.Clamp(pinning.Enabled ? pinning.ClientCores : 2, 1, connections);
        var arguments = new List<string> { "-t" + threads, "-c" + connections, "-d" + durationSeconds + "s", "--latency" };
        if (header is not null)
        {
            arguments.AddRange(["-H", header]);
        }

        if (timeoutSeconds is { } timeout)
        {
            arguments.AddRange(["--timeout", timeout + "s"]);
        }

        arguments.Add(url);
        var (fileName, pinned) = pinning.Client("wrk", arguments);
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync(
            "wrk",
            fileName,
            pinned,
            TimeSpan.FromSeconds(durationSeconds + 60),
            cancellationToken);
        if (exitCode != 0)
        {
            throw new BenchException($"wrk exited with code {exitCode} for {url}: {stderr.Trim()} {stdout.Trim()}");
        }

        return Parse(stdout);
    }

    /// <summary>
    /// Unmeasured runs until the server is in its steady state: two runs in a row within <see cref="SteadyWithin"/> of
    /// each other, at most <see cref="MaxWarmup"/> in all. A .NET server compiles its hot code unoptimised first and
    /// recompiles it in the background; pinned to one core that took 30–40 s of load here, during which a mirror
    /// served a quarter to a third of its steady rate (nginx and a bare Kestrel settle within a run or two).
    /// Returns the warm-up runs' rates, in order.
    /// </summary>
    public static async Task<IReadOnlyList<double>> WarmUpAsync(string url, int connections, CpuPinning pinning, CancellationToken cancellationToken, string? header = null)
    {
        var rates = new List<double>();
        var started = DateTime.UtcNow;
        while (true)
        {
            var run = await RunAsync(url, connections, WarmupRunSeconds, pinning, cancellationToken, header, timeoutSeconds: 30);
            rates.Add(run.RequestsPerSecond);
            if (rates.Count >= 2 && Math.Abs(rates[^1] - rates[^2]) <= SteadyWithin * Math.Max(rates[^1], rates[^2]))
            {
                return rates;
            }

            if (DateTime.UtcNow - started >= MaxWarmup)
            {
                return rates;
            }
        }
    }

    /// <summary>Two warm-up runs this close (as a share of the larger) mean the server has settled.</summary>
    public const double SteadyWithin = 0.05;

    private const int WarmupRunSeconds = 3;

    private static readonly TimeSpan MaxWarmup = TimeSpan.FromSeconds(90);

    public static WrkResult Parse(string output)
    {
        var requestsPerSecond = RequestsPerSecondRegex().Match(output);
        var transfer = TransferRegex().Match(output);
        if (!requestsPerSecond.Success || !transfer.Success)
        {
            throw new BenchException($"Could not parse wrk output:\n{output}");
        }

        var requests = RequestsRegex().Match(output);
        var non2xx = Non2xxRegex().Match(output);
        var socketErrors = SocketErrorsRegex().Match(output);
        long socketErrorCount = 0;
        if (socketErrors.Success)
        {
            for (var i = 1; i <= 4; i++)
            {
                socketErrorCount += long.Parse(socketErrors.Groups[i].Value, CultureInfo.InvariantCulture);
            }
        }

        return new WrkResult(
            double.Parse(requestsPerSecond.Groups[1].Value, CultureInfo.InvariantCulture),
            ParseBytes(transfer.Groups[1].Value, transfer.Groups[2].Value),
            Percentile(output, "50"),
            Percentile(output, "99"),
            requests.Success ? long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            socketErrorCount,
            output);
    }

    private static TimeSpan? Percentile(string output, string percent)
    {
        var distribution = output.IndexOf("Latency Distribution", StringComparison.Ordinal);
        if (distribution < 0)
        {
            return null;
        }

        var match = new Regex(@"^\s*" + percent + @"(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", RegexOptions.Multiline)
            .Match(output, distribution);
        return match.Success ? ParseDuration(match.Groups[1].Value, match.Groups[2].Value) : null;
    }

    private static TimeSpan ParseDuration(string number, string unit)
    {
        var value = double.Parse(number, CultureInfo.InvariantCulture);
        return unit switch
        {
            "us" => TimeSpan.FromTicks((long)(value * 10)),
            "ms" => TimeSpan.FromTicks((long)(value * TimeSpan.TicksPerMillisecond)),
            "s" => TimeSpan.FromTicks((long)(value * TimeSpan.TicksPerSecond)),
            "m" => TimeSpan.FromTicks((long)(value * TimeSpan.TicksPerMinute)),
            _ => TimeSpan.FromTicks((long)(value * TimeSpan.TicksPerHour)),
        };
    }

    // wrk scales bytes by 1024: "B", "KB", "MB", "GB", "TB".
    private static double ParseBytes(string number, string unit)
    {
        var value = double.Parse(number, CultureInfo.InvariantCulture);
        var exponent = unit.Length == 1 ? 0 : "KMGTP".IndexOf(unit[0], StringComparison.Ordinal) + 1;
        return value * Math.Pow(1024, exponent);
    }

    [GeneratedRegex(@"^Requests/sec:\s+([\d.]+)", RegexOptions.Multiline)]
    private static partial Regex RequestsPerSecondRegex();

    [GeneratedRegex(@"^Transfer/sec:\s+([\d.]+)([KMGTP]?B)", RegexOptions.Multiline)]
    private static partial Regex TransferRegex();

    [GeneratedRegex(@"(\d+) requests in ")]
    private static partial Regex RequestsRegex();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xxRegex();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrorsRegex();
}
