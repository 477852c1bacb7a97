using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Freshet.Benchmarks -- --filter '*' --job short --iterationCount 15 (docs/benchmarks.md)
BenchmarkSwitcher.FromAssembly(typeof(Freshet.Benchmarks.OnlineReadBenchmarks).Assembly).Run(args);
