using Freshet.LoadGen;

// dotnet run -c Release --project bench/Freshet.LoadGen -- --scenario a --store redis --out docs/img (docs/benchmarks.md)
return await LoadGenProgram.RunAsync(args, Console.Out, Console.Error);
