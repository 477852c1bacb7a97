using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Freshet.Benchmarks -- --filter '*' --job short --iterationCount 15 (docs/benchmarks.md)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- --filter "*ServingPath*" --job short --iterationCount 15 --inProcess (stages of one online read; "*TimestampText*": event-time formatting)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- latency [iterations] [memory|rocksdb]
// dotnet run -c Release --project bench/Freshet.Benchmarks -- --filter '*PushTransport*' --job short (gRPC vs HTTP push)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- --filter '*QualityRule*' --job short (push with and without data-quality rules)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- historical [entityRows] [sourceRows] [--memory-limit X] [--threads N] [--reps N] (training data vs a hand-written ASOF JOIN)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- stream-latency kafka|nats [samples] [max-pause-ms] [kafka fetch.wait.max.ms]
// dotnet run -c Release --project bench/Freshet.Benchmarks -- serve-latency [iterations] --store rocksdb|redis (serving p50/p99/p99.9: raw read, FeatureStore, HTTP; Redis write ratio)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- audit-push [rounds] [seconds] [clients] (push with and without the audit trail, side by side)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- feature-log [iterations] (read latency with served-vector logging off, at 0.01 and at 1.0)
// dotnet run -c Release --project bench/Freshet.Benchmarks -- pg-write CONNECTION_STRING [keys] [batch] [rounds] (array upsert vs COPY)
if (args.Length > 1 && args[0] == "pg-write")
{
    return await Freshet.Benchmarks.PostgresWriteProbe.RunAsync(args);
}

if (args.Length > 0 && args[0] == "stream-latency")
{
    return await Freshet.Benchmarks.StreamLatencyProbe.RunAsync(args);
}

if (args.Length > 0 && args[0] == "historical")
{
    return await Freshet.Benchmarks.HistoricalBenchmark.RunAsync(args);
}

if (args.Length > 0 && args[0] == "feature-log")
{
    return await Freshet.Benchmarks.FeatureLogLatencyProbe.RunAsync(args);
}

if (args.Length > 0 && args[0] == "serve-latency")
{
    return await Freshet.Benchmarks.ServeLatencyProbe.RunAsync(args);
}

if (args.Length > 0 && args[0] == "audit-push")
{
    return await Freshet.Benchmarks.AuditPushProbe.RunAsync(args);
}

if (args.Length > 0 && args[0] == "latency")
{
    return await Freshet.Benchmarks.PushLatencyProbe.RunAsync(args);
}

BenchmarkSwitcher.FromAssembly(typeof(Freshet.Benchmarks.OnlineReadBenchmarks).Assembly).Run(args);
return 0;
