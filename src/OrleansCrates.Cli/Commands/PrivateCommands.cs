using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Cli.Output;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;

namespace OrleansCrates.Cli.Commands;

/// <summary><c>private release NAME [--delete-versions]</c>: an administrator gives a private name back to the public crate.</summary>
internal static class PrivateCommands
{
    public static Command Create()
    {
        var name = CliOptions.WithValidator(
            new Argument<string>("name") { Description = "The private crate's name." },
            (string text) => CrateName.TryParse(text, out _) ? null : $"Invalid crate name '{text}'.");
        var deleteVersions = new Option<bool>("--delete-versions") { Description = "Delete its published versions too (refused without it when it has any)." };
        var release = new Command("release", "Give a private crate's name back, so the mirror serves the public crate of that name again.") { name, deleteVersions };
        release.SetAction((parse, ct) => CliApp.WithStoreAsync(async store =>
        {
            var options = Options.Create(new PrivateRegistryOptions());
            using var spool = new PublishSpool(options, NullLogger<PublishSpool>.Instance); // unused by a release: it spools nothing
            var registry = new PrivateRegistry(store, NoUsers.Instance, spool, options, TimeProvider.System, NullLogger<PrivateRegistry>.Instance);
            var outcome = await registry.ReleaseNameAsync(CrateName.Parse(parse.GetValue(name)!), parse.GetValue(deleteVersions), ct);
            if (!outcome.Succeeded)
            {
                await TextOutput.NoteAsync($"Not released: {outcome.Error!.Value.Detail}.");
                return CliApp.Failed;
            }

            await TextOutput.NoteAsync($"{outcome.Message}; every node serves the public crate within {options.Value.PrivateNameCacheTtl.TotalSeconds:0} s (Registry:Private:PrivateNameCacheTtl).");
            return CliApp.Ok;
        }, ct));
        return new Command("private", "The private registry's names.") { release };
    }

    /// <summary>Releasing a name never asks who exists.</summary>
    private sealed class NoUsers : IUserDirectory
    {
        public static readonly NoUsers Instance = new();

        public Task<bool> ExistsAsync(string login, CancellationToken ct) => Task.FromResult(false);
    }
}
