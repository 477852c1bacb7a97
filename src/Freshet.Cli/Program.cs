using Freshet.Cli;

// Confirmations are asked only of a person at a terminal; with redirected input, --yes is needed.
var terminal = Console.IsInputRedirected ? null : Console.In;
return await FreshetCli.RunAsync(args, Console.Out, Console.Error, terminal);
