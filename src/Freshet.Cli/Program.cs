using Freshet.Cli;

return await FreshetCli.RunAsync(args, Console.Out, Console.Error);
