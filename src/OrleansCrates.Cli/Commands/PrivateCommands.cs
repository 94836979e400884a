using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Cli;

/// <summary><c>private release NAME [--delete-versions]</c>: an administrator gives a private name back to the public crate.</summary>
internal static class PrivateCommands
{
    public static (ICliCommand? Command, string? Error) ParseRelease(CliArguments args, IReadOnlyList<string> operands)
    {
        if (args.Disallowed("delete-versions") is { } disallowed)
        {
            return (null, disallowed);
        }

        if (operands.Count != 1)
        {
            return (null, "private release needs one crate name, e.g. private release serde.");
        }

        return CrateName.TryParse(operands[0], out var name)
            ? (new Release(name.Value, args.Flags.Contains("delete-versions")), null)
            : (null, $"Invalid crate name '{operands[0]}'.");
    }

    private sealed record Release(CrateName Name, bool DeleteVersions) : ICliCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken)
        {
            var options = Options.Create(new PrivateRegistryOptions());
            using var spool = new PublishSpool(options, NullLogger<PublishSpool>.Instance); // unused by a release: it spools nothing
            var registry = new PrivateRegistry(store, NoUsers.Instance, spool, options, TimeProvider.System, NullLogger<PrivateRegistry>.Instance);
            var outcome = await registry.ReleaseNameAsync(Name, DeleteVersions, cancellationToken);
            if (!outcome.Succeeded)
            {
                await output.Stderr.WriteLineAsync($"Not released: {outcome.Error!.Value.Detail}.");
                return Cli.Failed;
            }

            await output.Stderr.WriteLineAsync($"{outcome.Message}; every node serves the public crate within {new PrivateRegistryOptions().PrivateNameCacheTtl.TotalSeconds:0} s (Registry:Private:PrivateNameCacheTtl).");
            return Cli.Ok;
        }
    }

    /// <summary>Releasing a name never asks who exists.</summary>
    private sealed class NoUsers : IUserDirectory
    {
        public static readonly NoUsers Instance = new();

        public Task<bool> ExistsAsync(string login, CancellationToken ct) => Task.FromResult(false);
    }
}
