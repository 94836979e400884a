using System.CommandLine;
using OrleansCrates.Cli;
using OrleansCrates.Cli.Commands;

// The operator's command line: one command group per class in Commands/; CliApp has the exit codes and configuration.
var root = new RootCommand("OrleansCrates: administer a crates.io mirror and private Cargo registry, offline against its storage or through a running cluster (--server).");
root.Subcommands.Add(TokenCommands.Create());
root.Subcommands.Add(DownloadCommands.Create());
root.Subcommands.Add(ApprovalCommands.Create());
root.Subcommands.Add(PrivateCommands.Create());
root.Subcommands.Add(VerifyCommands.CreateVerify());
root.Subcommands.Add(VerifyCommands.CreateVerifyLock());
root.Subcommands.Add(PrefetchCommand.Create());
root.Subcommands.Add(ToolchainCommands.CreatePrefetch());
return await CliApp.RunAsync(root, args);
