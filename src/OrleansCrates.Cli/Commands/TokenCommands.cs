using OrleansCrates.Accounts;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Cli;

/// <summary><c>token create</c>, <c>token list</c>, <c>token revoke</c>.</summary>
internal static class TokenCommands
{
    public static (ICliCommand? Command, string? Error) ParseCreate(CliArguments args, IReadOnlyList<string> operands)
    {
        if (args.Disallowed("user", "scope", "crates") is { } disallowed)
        {
            return (null, disallowed);
        }

        if (operands.Count > 0)
        {
            return (null, $"Unexpected argument '{operands[0]}'.");
        }

        var (user, userError) = args.Single("user");
        var (scopeName, scopeError) = args.Single("scope");
        if ((userError ?? scopeError) is { } error)
        {
            return (null, error);
        }

        if (user is null)
        {
            return (null, "token create needs --user LOGIN.");
        }

        if (!UserLogin.IsValid(user))
        {
            return (null, $"Invalid login '{user}': 1–39 letters, digits, '-' or '_', starting with a letter or digit.");
        }

        var scope = scopeName is null ? TokenScope.Publish : TokenStore.ParseScopeOrNull(scopeName);
        if (scope is null)
        {
            return (null, $"Invalid scope '{scopeName}': read, publish or admin.");
        }

        var patterns = (args.Options.GetValueOrDefault("crates") ?? [])
            .SelectMany(value => value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .ToList();
        if (patterns.FirstOrDefault(p => !CratePattern.IsValid(p)) is { } invalid)
        {
            return (null, $"Invalid crate pattern '{invalid}': 1–64 letters, digits, '-', '_' or '*'.");
        }

        return (new Create(user, scope.Value, patterns), null);
    }

    public static (ICliCommand? Command, string? Error) ParseList(CliArguments args, IReadOnlyList<string> operands) =>
        args.Disallowed("json") is { } disallowed ? (null, disallowed)
        : operands.Count > 0 ? (null, $"Unexpected argument '{operands[0]}'.")
        : (new List(args.Flags.Contains("json")), null);

    public static (ICliCommand? Command, string? Error) ParseRevoke(CliArguments args, IReadOnlyList<string> operands) =>
        args.Disallowed() is { } disallowed ? (null, disallowed)
        : operands.Count != 1 ? (null, "token revoke needs exactly one token id (see 'token list').")
        : (new Revoke(operands[0]), null);

    private sealed record Create(string User, TokenScope Scope, IReadOnlyList<string> Patterns) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            var tokens = new TokenStore(store, TimeProvider.System);
            var (token, info) = await tokens.CreateAsync(User, Scope, Patterns, cancellationToken);
            await output.Stdout.WriteLineAsync(token.AsMemory(), cancellationToken);
            await output.Stderr.WriteLineAsync(
                $"Created token {info.Id} for {info.User}: scope {TokenStore.ScopeName(info.Scope)}, crates {Crates(info)}. " +
                "It is shown only this once.");
            return Cli.Ok;
        }
    }

    private sealed record List(bool Json) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            var tokens = new List<TokenInfo>();
            await foreach (var token in new TokenStore(store, TimeProvider.System).ListAsync(cancellationToken))
            {
                tokens.Add(token);
            }

            tokens.Sort((a, b) => a.CreatedAt != b.CreatedAt ? a.CreatedAt.CompareTo(b.CreatedAt) : string.CompareOrdinal(a.Id, b.Id));
            if (Json)
            {
                foreach (var token in tokens)
                {
                    await TextOutput.WriteJsonLineAsync(output.Stdout, json =>
                    {
                        json.WriteString("id", token.Id);
                        json.WriteString("user", token.User);
                        json.WriteString("scope", TokenStore.ScopeName(token.Scope));
                        json.WriteStartArray("crates");
                        foreach (var pattern in token.CratePatterns)
                        {
                            json.WriteStringValue(pattern);
                        }

                        json.WriteEndArray();
                        json.WriteString("created_at", token.CreatedAt);
                        if (token.RevokedAt is { } revoked)
                        {
                            json.WriteString("revoked_at", revoked);
                        }
                        else
                        {
                            json.WriteNull("revoked_at");
                        }
                    }, cancellationToken);
                }

                return Cli.Ok;
            }

            var rows = tokens
                .Select(t => new[]
                {
                    t.Id, t.User, TokenStore.ScopeName(t.Scope), Crates(t), TextOutput.Time(t.CreatedAt),
                    t.RevokedAt is { } revoked ? TextOutput.Time(revoked) : "-",
                })
                .ToList();
            await TextOutput.WriteTableAsync(output.Stdout, ["ID", "USER", "SCOPE", "CRATES", "CREATED", "REVOKED"], rows, cancellationToken);
            return Cli.Ok;
        }
    }

    private sealed record Revoke(string Id) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            if (!await new TokenStore(store, TimeProvider.System).RevokeAsync(Id, cancellationToken))
            {
                await output.Stderr.WriteLineAsync($"No token with id '{Id}' (ids are the 12 hex digits 'token list' shows).");
                return Cli.Failed;
            }

            await output.Stderr.WriteLineAsync($"Revoked token {Id.ToLowerInvariant()}; every node refuses it within {TokenStore.CacheDuration.TotalSeconds:0} s.");
            return Cli.Ok;
        }
    }

    private static string Crates(TokenInfo token) => token.CratePatterns.Count == 0 ? "*" : string.Join(',', token.CratePatterns);
}
