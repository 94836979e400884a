using OrleansCrates.Cli;

// The operator's command line: see CliApp for the commands, exit codes and configuration.
return await CliApp.RunAsync(args);
