using System.Diagnostics;
using System.Globalization;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;
using Freshet.RocksDb;
using Freshet.Serving;
using Freshet.Values;

// Usage: freshet-pushlatency [--pushes N] [--concurrency C] [--idempotency] [--warmup N]
// In-process FeatureStore.PushAsync on RocksDB (a temp directory, removed at the end), one row per push, to a
// push source feeding a plain view and an aggregation view (scenario d's repo). C tasks push back to back
// (closed loop); prints each push's latency percentiles and the pushes per second. No HTTP: the store's write path only.
var pushes = 3_000;
var concurrency = 1;
var warmup = 300;
var idempotency = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--pushes": pushes = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--concurrency": concurrency = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--warmup": warmup = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--idempotency": idempotency = true; break;
        default:
            await Console.Error.WriteLineAsync($"freshet-pushlatency: unknown option '{args[i]}' (known: --pushes N, --concurrency C, --warmup N, --idempotency)");
            return 2;
    }
}

var directory = Directory.CreateTempSubdirectory("freshet-pushlatency-").FullName;
try
{
    var repo = new RepoBuilder("pushlatency")
        .Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]))
        .Add(new PushSource("tx")
        {
            TimestampField = "ts",
            Schema =
            [
                new("user_id", FeatureType.Of(ScalarKind.Int64)), new("seq", FeatureType.Of(ScalarKind.Int64)),
                new("amount", FeatureType.Of(ScalarKind.Float64)), new("ts", FeatureType.Of(ScalarKind.Timestamp)),
            ],
        })
        .Add(new FeatureView("latest", ["user"], "tx", [new Field("seq", FeatureType.Of(ScalarKind.Int64)), new Field("amount", FeatureType.Of(ScalarKind.Float64))]))
        .Add(new AggregationView("tx_stats", ["user"], "tx", [new Freshet.Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1))]))
        .Build()
        .GetValueOrThrow();
    var registry = new InMemoryRegistryStore();
    await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "pushlatency", DateTimeOffset.UtcNow), 0);
    await using var store = await FeatureStore.OpenAsync(registry, RocksDbOnlineStore.Open(directory), repo.Config, ".");

    var seq = 0L;
    ColumnTable Row()
    {
        var s = Interlocked.Increment(ref seq);
        var columns = new Dictionary<string, FeatureValue[]>
        {
            ["user_id"] = [FeatureValue.FromInt64(s % 1_000)],
            ["seq"] = [FeatureValue.FromInt64(s)],
            ["amount"] = [FeatureValue.FromFloat64(s * 0.5)],
            ["ts"] = [FeatureValue.FromTimestamp(DateTimeOffset.UtcNow)],
        };
        if (idempotency)
        {
            columns[FeatureStore.IdempotencyKeyColumn] = [FeatureValue.FromString("k" + s.ToString(CultureInfo.InvariantCulture))];
        }

        return new ColumnTable(columns);
    }

    for (var i = 0; i < warmup; i++)
    {
        await store.PushAsync("tx", Row(), PushTarget.Online);
    }

    var latencies = new double[pushes];
    var next = -1;
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < pushes)
        {
            var start = Stopwatch.GetTimestamp();
            await store.PushAsync("tx", Row(), PushTarget.Online);
            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
    })));
    var seconds = clock.Elapsed.TotalSeconds;
    Array.Sort(latencies);
    double At(double q) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(q * latencies.Length) - 1)];
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"pushes {pushes} concurrency {concurrency} idempotency {idempotency}: {pushes / seconds:F0} pushes/s  p50 {At(0.5):F3}  p90 {At(0.9):F3}  p99 {At(0.99):F3}  p99.9 {At(0.999):F3}  max {latencies[^1]:F3} ms"));
    return 0;
}
finally
{
    Directory.Delete(directory, recursive: true);
}
