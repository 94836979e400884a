using System.CommandLine;
using OrleansCrates.Cli.Output;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Protocol;
using static OrleansCrates.Cli.AdminClient;

namespace OrleansCrates.Cli.Commands;

/// <summary>
/// <c>approvals list|approve|reject|audit</c>: against the configured storage, or with <c>--server URL</c> through a
/// running node's admin API (the decision is then recorded under the token's user). Both print the same output.
/// </summary>
internal static class ApprovalCommands
{
    public static Command Create()
    {
        var approvals = new Command("approvals", "Crates waiting for approval, and the decisions on them.");
        approvals.Subcommands.Add(ListCommand());
        approvals.Subcommands.Add(DecideCommand(ApprovalDecision.Approved));
        approvals.Subcommands.Add(DecideCommand(ApprovalDecision.Rejected));
        approvals.Subcommands.Add(AuditCommand());
        return approvals;
    }

    private static Command ListCommand()
    {
        var json = CliOptions.Json();
        var server = new CliOptions.Server();
        var command = new Command("list", "Crates waiting for approval (who asked first, when, which versions) and every decision.") { json };
        server.AddTo(command);
        command.SetAction((parse, ct) => CliApp.GuardAsync(async () =>
        {
            using var client = server.ClientOrNull(parse);
            var (pending, decisions) = client is not null ? FromServer(await client.GetApprovalsAsync(ct)) : await FromStoreAsync(ct);
            await WriteListAsync(pending, decisions, parse.GetValue(json), ct);
            return CliApp.Ok;
        }, ct));
        return command;
    }

    private static Command DecideCommand(ApprovalDecision decision)
    {
        var verb = decision == ApprovalDecision.Approved ? "approve" : "reject";
        var name = CliOptions.WithValidator(
            new Argument<string>("name") { Description = "The crate." },
            (string text) => CrateName.TryParse(text, out _) ? null : $"Invalid crate name '{text}'.");
        var req = CliOptions.WithValidator(
            new Argument<string>("versionreq") { Description = "cargo's version requirement syntax: '^1.2', '>=1, <2', '*' (quote it)." },
            (string text) => VersionReq.TryParse(text, out _, out var error) ? null : $"Invalid version requirement '{text}': {error}.");
        var by = CliOptions.WithValidator(
            new Option<string>("--by") { Description = "Who decides (default: the OS user; with --server: the token's user).", DefaultValueFactory = _ => Environment.UserName },
            (string who) => who.Length is > 0 and <= 64 && who.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@')
                ? null : $"Invalid --by '{who}': 1–64 letters, digits, '.', '_', '-' or '@'.");
        var server = new CliOptions.Server();
        var command = new Command(verb, $"{(decision == ApprovalDecision.Approved ? "Approve" : "Reject")} the versions of NAME that VERSIONREQ matches; every node serves the change from its next request on.") { name, req, by };
        server.AddTo(command);
        command.Validators.Add(result =>
        {
            if (result.GetValue(server.Url) is not null && result.GetResult(by) is { Implicit: false })
            {
                result.AddError("--by does not apply with --server: the server records the token's user.");
            }
        });
        command.SetAction((parse, ct) => CliApp.GuardAsync(async () =>
        {
            var crate = CrateName.Parse(parse.GetValue(name)!);
            using var client = server.ClientOrNull(parse);
            string rule, who, replaced = "";
            if (client is not null)
            {
                var answer = await client.DecideAsync(verb, crate.Value, parse.GetValue(req)!, ct);
                (rule, who) = (answer.Decision.Req, answer.Decision.By);
                if (answer.Replaced is { } old)
                {
                    replaced = $" (it was {old.Decision} by {old.By} at {TextOutput.Time(old.At)})";
                }
            }
            else
            {
                VersionReq.TryParse(parse.GetValue(req), out var versionReq, out _);
                who = parse.GetValue(by)!;
                var outcome = await CliApp.WithStoreResultAsync(store => new ApprovalStore(store, TimeProvider.System).DecideAsync(crate, versionReq!, decision, who, ct), ct);
                rule = outcome.Rule.Req;
                if (outcome.Replaced is { } old)
                {
                    replaced = $" (it was {ApprovalRule.DecisionName(old.Decision)} by {old.By} at {TextOutput.Time(old.At)})";
                }
            }

            var decided = ApprovalRule.DecisionName(decision);
            await TextOutput.NoteAsync($"{char.ToUpperInvariant(decided[0])}{decided[1..]} {crate} {rule} by {who}{replaced}; every node serves the change from its next request on.");
            return CliApp.Ok;
        }, ct));
        return command;
    }

    private static Command AuditCommand()
    {
        var days = new CliOptions.Days();
        var json = CliOptions.Json();
        var server = new CliOptions.Server();
        var command = new Command("audit", "Who decided what, for UTC days --from to --to inclusive (default: the 7 days up to today).") { json };
        days.AddTo(command);
        server.AddTo(command);
        command.SetAction((parse, ct) => CliApp.GuardAsync(async () =>
        {
            var range = days.Get(parse);
            using var client = server.ClientOrNull(parse);
            var entries = client is not null
                ? (await client.GetAuditAsync(range.First, range.Last, ct)).Audit
                : (await CliApp.WithStoreResultAsync(store => new ApprovalStore(store, TimeProvider.System).ListAuditAsync(range.First, range.Last, ct), ct))
                    .Select(e => new AuditEntryJson(e.At, e.By, ApprovalRule.DecisionName(e.Decision), e.Name, e.Req, e.Replaced is { } r ? ApprovalRule.DecisionName(r) : null))
                    .ToList();
            if (!parse.GetValue(json))
            {
                TextOutput.WriteTable(["AT", "BY", "DECISION", "NAME", "REQ"], entries.Select(e => new[] { TextOutput.Time(e.At), e.By, e.Decision, e.Name, e.Req }));
                return CliApp.Ok;
            }

            foreach (var e in entries)
            {
                await TextOutput.WriteJsonLineAsync(writer =>
                {
                    writer.WriteString("at", e.At);
                    writer.WriteString("by", e.By);
                    writer.WriteString("decision", e.Decision);
                    writer.WriteString("name", e.Name);
                    writer.WriteString("req", e.Req);
                    if (e.Replaced is null)
                    {
                        writer.WriteNull("replaced");
                    }
                    else
                    {
                        writer.WriteString("replaced", e.Replaced);
                    }
                }, ct);
            }

            return CliApp.Ok;
        }, ct));
        return command;
    }

    private static (IReadOnlyList<PendingJson>, IReadOnlyList<RuleJson>) FromServer(ApprovalsJson answer) => (answer.Pending, answer.Decisions);

    private static Task<(IReadOnlyList<PendingJson>, IReadOnlyList<RuleJson>)> FromStoreAsync(CancellationToken ct) =>
        CliApp.WithStoreResultAsync<(IReadOnlyList<PendingJson>, IReadOnlyList<RuleJson>)>(async store =>
        {
            var approvals = new ApprovalStore(store, TimeProvider.System);
            var decisions = await approvals.GetCurrentAsync(ct);
            var pending = await approvals.ListPendingAsync(decisions, ct);
            return (
                [.. pending.Select(p => new PendingJson(p.Name, p.RequestedBy, p.RequestedAt, p.Versions, p.Waiting))],
                [.. decisions.Rules.Select(r => new RuleJson(r.Name, r.Req, ApprovalRule.DecisionName(r.Decision), r.By, r.At))]);
        }, ct);

    private static async Task WriteListAsync(IReadOnlyList<PendingJson> pending, IReadOnlyList<RuleJson> decisions, bool json, CancellationToken ct)
    {
        if (!json)
        {
            await TextOutput.WriteLineAsync($"Pending ({pending.Count}):", ct);
            TextOutput.WriteTable(["NAME", "REQUESTED BY", "REQUESTED AT", "WAITING"],
                pending.Select(p => new[] { p.Name, p.RequestedBy, TextOutput.Time(p.RequestedAt), string.Join(',', p.Waiting) }));
            await TextOutput.WriteLineAsync($"{Environment.NewLine}Decisions ({decisions.Count}):", ct);
            TextOutput.WriteTable(["NAME", "REQ", "DECISION", "BY", "AT"], decisions.Select(r => new[] { r.Name, r.Req, r.Decision, r.By, TextOutput.Time(r.At) }));
            return;
        }

        foreach (var p in pending)
        {
            await TextOutput.WriteJsonLineAsync(writer =>
            {
                writer.WriteString("type", "pending");
                writer.WriteString("name", p.Name);
                writer.WriteString("requested_by", p.RequestedBy);
                writer.WriteString("requested_at", p.RequestedAt);
                WriteArray(writer, "versions", p.Versions);
                WriteArray(writer, "waiting", p.Waiting);
            }, ct);
        }

        foreach (var rule in decisions)
        {
            await TextOutput.WriteJsonLineAsync(writer =>
            {
                writer.WriteString("type", "decision");
                writer.WriteString("name", rule.Name);
                writer.WriteString("req", rule.Req);
                writer.WriteString("decision", rule.Decision);
                writer.WriteString("by", rule.By);
                writer.WriteString("at", rule.At);
            }, ct);
        }
    }

    private static void WriteArray(System.Text.Json.Utf8JsonWriter json, string name, IReadOnlyList<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
