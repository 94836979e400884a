using System.Globalization;
using OrleansCrates.Accounts;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Cli;

/// <summary><c>downloads list</c>.</summary>
internal static class DownloadCommands
{
    public static (ICliCommand? Command, string? Error) ParseList(CliArguments args, IReadOnlyList<string> operands)
    {
        if (args.Disallowed("from", "to", "user", "crate", "json") is { } disallowed)
        {
            return (null, disallowed);
        }

        if (operands.Count > 0)
        {
            return (null, $"Unexpected argument '{operands[0]}'.");
        }

        var (user, userError) = args.Single("user");
        var (crate, crateError) = args.Single("crate");
        var (range, rangeError) = args.DayRange();
        if ((rangeError ?? userError ?? crateError) is { } error)
        {
            return (null, error);
        }

        return (new List(range!.Value, user, crate, args.Flags.Contains("json")), null);
    }

    private sealed record List(Hosting.DayRange Days, string? User, string? Crate, bool Json) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            var log = new DownloadLog(store, TimeProvider.System);
            var records = log.QueryAsync(Days.First, Days.Last, User, Crate, cancellationToken);
            if (Json)
            {
                await foreach (var record in records)
                {
                    await TextOutput.WriteJsonLineAsync(output.Stdout, json =>
                    {
                        json.WriteString("token_id", record.TokenId);
                        json.WriteString("user", record.User);
                        json.WriteString("registry", record.Registry);
                        json.WriteString("crate", record.Crate);
                        json.WriteString("version", record.Version);
                        json.WriteString("at", record.At);
                    }, cancellationToken);
                }

                return Cli.Ok;
            }

            var rows = new List<string[]>();
            await foreach (var record in records)
            {
                rows.Add([TextOutput.Time(record.At), record.User, record.TokenId, record.Registry, record.Crate, record.Version]);
            }

            await TextOutput.WriteTableAsync(output.Stdout, ["AT", "USER", "TOKEN", "REGISTRY", "CRATE", "VERSION"], rows, cancellationToken);
            return Cli.Ok;
        }
    }
}
