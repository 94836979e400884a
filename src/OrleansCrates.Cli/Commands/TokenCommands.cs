using System.CommandLine;
using OrleansCrates.Accounts;
using OrleansCrates.Cli.Output;

namespace OrleansCrates.Cli.Commands;

/// <summary><c>token create</c>, <c>token list</c>, <c>token revoke</c>, against the configured storage.</summary>
internal static class TokenCommands
{
    public static Command Create()
    {
        var token = new Command("token", "Create, list and revoke API tokens.");
        token.Subcommands.Add(CreateCommand());
        token.Subcommands.Add(ListCommand());
        token.Subcommands.Add(RevokeCommand());
        return token;
    }

    private static Command CreateCommand()
    {
        var user = CliOptions.WithValidator(
            new Option<string>("--user") { Description = "The login the token acts as.", Required = true },
            (string login) => UserLogin.IsValid(login) ? null : $"Invalid login '{login}': 1–39 letters, digits, '-' or '_', starting with a letter or digit.");
        var scope = new Option<string>("--scope") { Description = "read, publish or admin.", DefaultValueFactory = _ => "publish" };
        scope.AcceptOnlyFromAmong("read", "publish", "admin");
        var crates = CliOptions.WithValidator(
            new Option<string[]>("--crates") { Description = "Crate patterns the token is limited to (repeat or comma-separate; '*' matches anything). Default: every crate." },
            (string[] values) => Patterns(values).FirstOrDefault(p => !CratePattern.IsValid(p)) is { } invalid
                ? $"Invalid crate pattern '{invalid}': 1–64 letters, digits, '-', '_' or '*'." : null);
        var command = new Command("create", "Create a token and print it, and nothing else, on stdout. It cannot be shown again.") { user, scope, crates };
        command.SetAction((parse, ct) => CliApp.WithStoreAsync(async store =>
        {
            var (secret, info) = await new TokenStore(store, TimeProvider.System).CreateAsync(
                parse.GetValue(user)!, TokenStore.ParseScopeOrNull(parse.GetValue(scope)!)!.Value, Patterns(parse.GetValue(crates) ?? []), ct);
            await TextOutput.WriteLineAsync(secret, ct);
            await TextOutput.NoteAsync(
                $"Created token {info.Id} for {info.User}: scope {TokenStore.ScopeName(info.Scope)}, crates {Crates(info)}. It is shown only this once.");
            return CliApp.Ok;
        }, ct));
        return command;
    }

    private static Command ListCommand()
    {
        var json = CliOptions.Json();
        var command = new Command("list", "List tokens: id, user, scope, crates, created, revoked. Never their secrets.") { json };
        command.SetAction((parse, ct) => CliApp.WithStoreAsync(async store =>
        {
            var tokens = new List<TokenInfo>();
            await foreach (var token in new TokenStore(store, TimeProvider.System).ListAsync(ct))
            {
                tokens.Add(token);
            }

            tokens.Sort((a, b) => a.CreatedAt != b.CreatedAt ? a.CreatedAt.CompareTo(b.CreatedAt) : string.CompareOrdinal(a.Id, b.Id));
            if (!parse.GetValue(json))
            {
                TextOutput.WriteTable(
                    ["ID", "USER", "SCOPE", "CRATES", "CREATED", "REVOKED"],
                    tokens.Select(t => new[]
                    {
                        t.Id, t.User, TokenStore.ScopeName(t.Scope), Crates(t), TextOutput.Time(t.CreatedAt),
                        t.RevokedAt is { } revoked ? TextOutput.Time(revoked) : "-",
                    }));
                return CliApp.Ok;
            }

            foreach (var token in tokens)
            {
                await TextOutput.WriteJsonLineAsync(writer =>
                {
                    writer.WriteString("id", token.Id);
                    writer.WriteString("user", token.User);
                    writer.WriteString("scope", TokenStore.ScopeName(token.Scope));
                    writer.WriteStartArray("crates");
                    token.CratePatterns.ToList().ForEach(writer.WriteStringValue);
                    writer.WriteEndArray();
                    writer.WriteString("created_at", token.CreatedAt);
                    if (token.RevokedAt is { } revoked)
                    {
                        writer.WriteString("revoked_at", revoked);
                    }
                    else
                    {
                        writer.WriteNull("revoked_at");
                    }
                }, ct);
            }

            return CliApp.Ok;
        }, ct));
        return command;
    }

    private static Command RevokeCommand()
    {
        var id = new Argument<string>("id") { Description = "The token's id, from 'token list'." };
        var command = new Command("revoke", "Revoke a token; every node refuses it within 5 s.") { id };
        command.SetAction((parse, ct) => CliApp.WithStoreAsync(async store =>
        {
            var tokenId = parse.GetValue(id)!;
            if (!await new TokenStore(store, TimeProvider.System).RevokeAsync(tokenId, ct))
            {
                await TextOutput.NoteAsync($"No token with id '{tokenId}' (ids are the 12 hex digits 'token list' shows).");
                return CliApp.Failed;
            }

            await TextOutput.NoteAsync($"Revoked token {tokenId.ToLowerInvariant()}; every node refuses it within {TokenStore.CacheDuration.TotalSeconds:0} s.");
            return CliApp.Ok;
        }, ct));
        return command;
    }

    private static List<string> Patterns(IEnumerable<string> values) =>
        [.. values.SelectMany(value => value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];

    private static string Crates(TokenInfo token) => token.CratePatterns.Count == 0 ? "*" : string.Join(',', token.CratePatterns);
}
