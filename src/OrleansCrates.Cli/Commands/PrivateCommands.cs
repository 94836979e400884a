using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
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
            // The same writer the crate's grain runs, with the same fences: a cluster writing this crate meanwhile is seen, not overwritten.
            var options = new PrivateRegistryOptions();
            var writers = new LocalPrivateCrateWriters(new PrivateCrateWriter(store, TimeProvider.System, NullLogger<PrivateCrateWriter>.Instance));
            var outcome = await writers.ReleaseNameAsync(CrateName.Parse(parse.GetValue(name)!), parse.GetValue(deleteVersions), ct);
            if (!outcome.Succeeded)
            {
                await TextOutput.NoteAsync($"Not released: {outcome.Error!.Value.Detail}.");
                return CliApp.Failed;
            }

            await TextOutput.NoteAsync($"{outcome.Message}; every node serves the public crate within {options.PrivateNameCacheTtl.TotalSeconds:0} s (Registry:Private:PrivateNameCacheTtl).");
            return CliApp.Ok;
        }, ct));
        return new Command("private", "The private registry's names.") { release };
    }
}
