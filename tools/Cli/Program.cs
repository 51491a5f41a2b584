using System.CommandLine;
using Transformation.Cli.Run;

var root = new RootCommand("transform: run Transformation locally and work with its data.")
{
    RunCommand.Create(),
    Transformation.Cli.Tokens.TokenCommand.Create(),
    Transformation.Cli.Directory.DirectoryCommand.Create(),
    Transformation.Cli.Baselines.BaselinesCommand.Create(),
    Transformation.Cli.Demo.DemoCommand.Create(),
    Transformation.Cli.Export.ExportCommand.Create(),
    Transformation.Cli.Load.LoadCommand.Create(),
    Transformation.Cli.Webhooks.WebhooksCommand.Create(),
};
// Ctrl-C cancels the running command; stopping the brokers gracefully can take several seconds.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromMinutes(1) });
