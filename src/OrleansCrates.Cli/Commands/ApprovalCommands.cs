using System.Globalization;
using OrleansCrates.Core.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Cli;

/// <summary><c>approvals list</c>, <c>approvals approve</c>, <c>approvals reject</c>, <c>approvals audit</c>.</summary>
internal static class ApprovalCommands
{
    public static (ICliCommand? Command, string? Error) ParseList(CliArguments args, IReadOnlyList<string> operands) =>
        args.Disallowed("json") is { } disallowed ? (null, disallowed)
        : operands.Count > 0 ? (null, $"Unexpected argument '{operands[0]}'.")
        : (new List(args.Flags.Contains("json")), null);

    public static (ICliCommand? Command, string? Error) ParseApprove(CliArguments args, IReadOnlyList<string> operands) =>
        ParseDecision(args, operands, ApprovalDecision.Approved);

    public static (ICliCommand? Command, string? Error) ParseReject(CliArguments args, IReadOnlyList<string> operands) =>
        ParseDecision(args, operands, ApprovalDecision.Rejected);

    public static (ICliCommand? Command, string? Error) ParseAudit(CliArguments args, IReadOnlyList<string> operands)
    {
        if (args.Disallowed("from", "to", "json") is { } disallowed)
        {
            return (null, disallowed);
        }

        if (operands.Count > 0)
        {
            return (null, $"Unexpected argument '{operands[0]}'.");
        }

        var (range, error) = args.DayRange();
        return range is { } days ? (new Audit(days.First, days.Last, args.Flags.Contains("json")), null) : (null, error);
    }

    private static (ICliCommand? Command, string? Error) ParseDecision(CliArguments args, IReadOnlyList<string> operands, ApprovalDecision decision)
    {
        var verb = decision == ApprovalDecision.Approved ? "approve" : "reject";
        if (args.Disallowed("by") is { } disallowed)
        {
            return (null, disallowed);
        }

        if (operands.Count != 2)
        {
            return (null, $"approvals {verb} needs a crate name and one version requirement, e.g. approvals {verb} serde '^1.0' (quote requirements with spaces or '*').");
        }

        if (!CrateName.TryParse(operands[0], out var name))
        {
            return (null, $"Invalid crate name '{operands[0]}'.");
        }

        if (!VersionReq.TryParse(operands[1], out var req, out var reqError))
        {
            return (null, $"Invalid version requirement '{operands[1]}': {reqError}.");
        }

        var (by, byError) = args.Single("by");
        if (byError is not null)
        {
            return (null, byError);
        }

        by ??= Environment.UserName;
        if (!IsValidWho(by))
        {
            return (null, $"Invalid --by '{by}': 1–64 letters, digits, '.', '_', '-' or '@'.");
        }

        return (new Decide(name.Value, req, decision, by), null);
    }

    private static bool IsValidWho(string who) =>
        who.Length is > 0 and <= 64 && who.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@');

    private sealed record Decide(CrateName Name, VersionReq Req, ApprovalDecision Decision, string By) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            var outcome = await new ApprovalStore(store, TimeProvider.System).DecideAsync(Name, Req, Decision, By, cancellationToken);
            var replaced = outcome.Replaced is { } old ? $" (it was {ApprovalRule.DecisionName(old.Decision)} by {old.By} at {TextOutput.Time(old.At)})" : "";
            await output.Stderr.WriteLineAsync(
                $"{Capitalized(ApprovalRule.DecisionName(Decision))} {Name} {outcome.Rule.Req} by {By}{replaced}; every node serves the change from its next request on.");
            return Cli.Ok;
        }

        private static string Capitalized(string word) => char.ToUpperInvariant(word[0]) + word[1..];
    }

    private sealed record List(bool Json) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            var approvals = new ApprovalStore(store, TimeProvider.System);
            var decisions = await approvals.GetCurrentAsync(cancellationToken);
            var pending = await approvals.ListPendingAsync(decisions, cancellationToken);
            if (Json)
            {
                foreach (var p in pending)
                {
                    await TextOutput.WriteJsonLineAsync(output.Stdout, json =>
                    {
                        json.WriteString("type", "pending");
                        json.WriteString("name", p.Name);
                        json.WriteString("requested_by", p.RequestedBy);
                        json.WriteString("requested_at", p.RequestedAt);
                        WriteArray(json, "versions", p.Versions);
                        WriteArray(json, "waiting", p.Waiting);
                    }, cancellationToken);
                }

                foreach (var rule in decisions.Rules)
                {
                    await TextOutput.WriteJsonLineAsync(output.Stdout, json =>
                    {
                        json.WriteString("type", "decision");
                        json.WriteString("name", rule.Name);
                        json.WriteString("req", rule.Req);
                        json.WriteString("decision", ApprovalRule.DecisionName(rule.Decision));
                        json.WriteString("by", rule.By);
                        json.WriteString("at", rule.At);
                    }, cancellationToken);
                }

                return Cli.Ok;
            }

            await output.Stdout.WriteLineAsync($"Pending ({pending.Count}):".AsMemory(), cancellationToken);
            await TextOutput.WriteTableAsync(
                output.Stdout,
                ["NAME", "REQUESTED BY", "REQUESTED AT", "WAITING"],
                [.. pending.Select(p => new[] { p.Name, p.RequestedBy, TextOutput.Time(p.RequestedAt), string.Join(',', p.Waiting) })],
                cancellationToken);
            await output.Stdout.WriteLineAsync($"{Environment.NewLine}Decisions ({decisions.Rules.Count}):".AsMemory(), cancellationToken);
            await TextOutput.WriteTableAsync(
                output.Stdout,
                ["NAME", "REQ", "DECISION", "BY", "AT"],
                [.. decisions.Rules.Select(r => new[] { r.Name, r.Req, ApprovalRule.DecisionName(r.Decision), r.By, TextOutput.Time(r.At) })],
                cancellationToken);
            return Cli.Ok;
        }
    }

    private sealed record Audit(DateOnly From, DateOnly To, bool Json) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            var entries = await new ApprovalStore(store, TimeProvider.System).ListAuditAsync(From, To, cancellationToken);
            if (Json)
            {
                foreach (var e in entries)
                {
                    await TextOutput.WriteJsonLineAsync(output.Stdout, json =>
                    {
                        json.WriteString("at", e.At);
                        json.WriteString("by", e.By);
                        json.WriteString("decision", ApprovalRule.DecisionName(e.Decision));
                        json.WriteString("name", e.Name);
                        json.WriteString("req", e.Req);
                        if (e.Replaced is { } replaced)
                        {
                            json.WriteString("replaced", ApprovalRule.DecisionName(replaced));
                        }
                        else
                        {
                            json.WriteNull("replaced");
                        }
                    }, cancellationToken);
                }

                return Cli.Ok;
            }

            await TextOutput.WriteTableAsync(
                output.Stdout,
                ["AT", "BY", "DECISION", "NAME", "REQ"],
                [.. entries.Select(e => new[] { TextOutput.Time(e.At), e.By, ApprovalRule.DecisionName(e.Decision), e.Name, e.Req })],
                cancellationToken);
            return Cli.Ok;
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
