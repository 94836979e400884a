using System.CommandLine;
using OrleansCrates.Accounts;
using OrleansCrates.Cli.Output;

namespace OrleansCrates.Cli.Commands;

/// <summary><c>downloads list</c>: download records of UTC days, from the configured storage.</summary>
internal static class DownloadCommands
{
    public static Command Create()
    {
        var days = new CliOptions.Days();
        var user = new Option<string?>("--user") { Description = "Only this user's downloads." };
        var crate = new Option<string?>("--crate") { Description = "Only this crate's downloads." };
        var json = CliOptions.Json();
        var list = new Command("list", "Download records for UTC days --from to --to inclusive (default: the 7 days up to today; at most 366).") { user, crate, json };
        days.AddTo(list);
        list.SetAction((parse, ct) => CliApp.WithStoreAsync(async store =>
        {
            var range = days.Get(parse);
            var records = new DownloadLog(store, TimeProvider.System).QueryAsync(range.First, range.Last, parse.GetValue(user), parse.GetValue(crate), ct);
            if (!parse.GetValue(json))
            {
                var rows = new List<string[]>();
                await foreach (var record in records)
                {
                    rows.Add([TextOutput.Time(record.At), record.User, record.TokenId, record.Registry, record.Crate, record.Version]);
                }

                TextOutput.WriteTable(["AT", "USER", "TOKEN", "REGISTRY", "CRATE", "VERSION"], rows);
                return CliApp.Ok;
            }

            await foreach (var record in records)
            {
                await TextOutput.WriteJsonLineAsync(writer =>
                {
                    writer.WriteString("token_id", record.TokenId);
                    writer.WriteString("user", record.User);
                    writer.WriteString("registry", record.Registry);
                    writer.WriteString("crate", record.Crate);
                    writer.WriteString("version", record.Version);
                    writer.WriteString("at", record.At);
                }, ct);
            }

            return CliApp.Ok;
        }, ct));
        return new Command("downloads", "Who downloaded what.") { list };
    }
}
