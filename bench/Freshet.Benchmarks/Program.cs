using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Freshet.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Freshet.Benchmarks.OnlineReadBenchmarks).Assembly).Run(args);
