using System.Globalization;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>
/// Which cores the servers under test (the mirror, nginx, the bare Kestrel baseline) and the load generator (wrk) run on
/// in the wrk phases. On a small machine wrk and the server otherwise fight for the same cores, and which of them the
/// scheduler favours changes from run to run (one unpinned run here moved by a factor of two). Pinned, each server gets
/// the same cores in turn and wrk the rest, so a ratio compares the servers' work per core. Pinning uses
/// <c>taskset</c> (util-linux), which replaces itself with the command, so process ids stay the server's own.
/// </summary>
internal sealed record CpuPinning(string? ServerCpus, string? ClientCpus, int ServerCores, int ClientCores)
{
    public static CpuPinning None { get; } = new(null, null, Environment.ProcessorCount, Environment.ProcessorCount);

    /// <summary>The upper half of the cores for the servers (at least one), the rest for wrk; none below two cores.</summary>
    public static CpuPinning Split(int processors)
    {
        if (processors < 2)
        {
            return None;
        }

        var server = Math.Max(1, processors / 2);
        var client = processors - server;
        return new CpuPinning(
            Range(client, processors - 1),
            Range(0, client - 1),
            server,
            client);
    }

    public bool Enabled => ServerCpus is not null;

    public string Describe() => Enabled
        ? $"servers on CPU {ServerCpus}, wrk on CPU {ClientCpus} (taskset)"
        : "not pinned";

    /// <summary>The command line that runs <paramref name="fileName"/> on the servers' cores (unchanged when not pinned).</summary>
    public (string FileName, IReadOnlyList<string> Arguments) Server(string fileName, IEnumerable<string> arguments) =>
        Wrap(ServerCpus, fileName, arguments);

    /// <summary>The command line that runs <paramref name="fileName"/> on the load generator's cores.</summary>
    public (string FileName, IReadOnlyList<string> Arguments) Client(string fileName, IEnumerable<string> arguments) =>
        Wrap(ClientCpus, fileName, arguments);

    private static (string, IReadOnlyList<string>) Wrap(string? cpus, string fileName, IEnumerable<string> arguments) =>
        cpus is null ? (fileName, arguments.ToList()) : ("taskset", ["-c", cpus, fileName, .. arguments]);

    private static string Range(int first, int last) => first == last
        ? first.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{first}-{last}");
}
