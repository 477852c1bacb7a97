using System.Diagnostics;
using System.Globalization;
using Freshet.Definitions;
using Freshet.DuckDb;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// The cost of served-vector logging on the read path, <c>-- feature-log [iterations]</c>: three feature stores over
/// one in-memory online store (1 view of 10 features, 10,000 entities), one without a log, one logging at rate 0.01
/// and one at rate 1.0 (<see cref="ParquetFeatureLog"/> to temp directories, flushed every second), read in turn
/// per iteration (1 entity x 10 features through <see cref="FeatureStore.GetOnlineFeaturesAsync"/>), so the three
/// see the same machine noise. Prints p50/p99 per variant, the ratios of medians, and what each log wrote/dropped.
/// </summary>
internal static class FeatureLogLatencyProbe
{
    private const int Entities = 10_000;
    private const int Features = 10;
    private const int Warmup = 2_000;
    private const string View = "view0";

    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out var n) ? n : 20_000;
        var builder = new RepoBuilder("bench").Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]));
        builder.Add(new PushSource("events") { TimestampField = "ts" });
        var schema = Enumerable.Range(0, Features).Select(f => new Field($"f{f}", f % 2 == 0 ? FeatureType.Of(ScalarKind.Float64) : FeatureType.Of(ScalarKind.Int64))).ToList();
        builder.Add(new FeatureView(View, ["user"], "events", schema));
        var repo = builder.Build().GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "bench", DateTimeOffset.UtcNow), 0);
        var online = new InMemoryOnlineStore();
        var root = Directory.CreateTempSubdirectory("freshet-bench-log-").FullName;
        try
        {
            var logs = new[] { 0.01, 1.0 }.Select(rate => new ParquetFeatureLog(Path.Combine(root, rate.ToString(CultureInfo.InvariantCulture)), new FeatureLoggingConfig { SampleRate = rate, FlushInterval = TimeSpan.FromSeconds(1) })).ToArray();
            var names = new[] { "off", "rate 0.01", "rate 1.0" };
            var stores = new[]
            {
                await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { OwnsOnlineStore = false }),
                await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { OwnsOnlineStore = false, ServedLog = logs[0] }),
                await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { OwnsOnlineStore = false, ServedLog = logs[1] }),
            };
            var ts = FeatureValue.FromTimestamp(DateTimeOffset.UtcNow);
            var columns = new Dictionary<string, FeatureValue[]>
            {
                ["user_id"] = [.. Enumerable.Range(0, Entities).Select(i => FeatureValue.FromInt64(i))],
                ["ts"] = [.. Enumerable.Range(0, Entities).Select(_ => ts)],
            };
            for (var f = 0; f < Features; f++)
            {
                columns[$"f{f}"] = [.. Enumerable.Range(0, Entities).Select(i => f % 2 == 0 ? FeatureValue.FromFloat64(i * 0.5) : FeatureValue.FromInt64(i))];
            }

            await stores[0].WriteToOnlineStoreAsync(View, new ColumnTable(columns));
            var features = Enumerable.Range(0, Features).Select(f => $"{View}:f{f}").ToArray();
            var random = new Random(20261129);
            var ticks = stores.Select(_ => new long[iterations]).ToArray();
            var total = Stopwatch.StartNew();
            for (var i = 0; i < Warmup + iterations; i++)
            {
                var request = new OnlineRequest { Features = features, Entities = new Dictionary<string, FeatureValue[]> { ["user_id"] = [FeatureValue.FromInt64(random.Next(Entities))] } };
                for (var s = 0; s < stores.Length; s++)
                {
                    // Rotate the order so no variant always runs first (cache warmth, GC timing).
                    var v = (s + i) % stores.Length;
                    var start = Stopwatch.GetTimestamp();
                    var response = await stores[v].GetOnlineFeaturesAsync(request);
                    var elapsed = Stopwatch.GetTimestamp() - start;
                    if (response.Columns[1].Statuses[0] != FieldStatus.Present)
                    {
                        throw new InvalidOperationException("entity not present");
                    }

                    if (i >= Warmup)
                    {
                        ticks[v][i - Warmup] = elapsed;
                    }
                }
            }

            Console.WriteLine($"feature-log: 1 entity x {Features} features through FeatureStore, {iterations} samples per variant after {Warmup} warm-up, {total.Elapsed.TotalSeconds:F1} s, load {File.ReadAllText("/proc/loadavg").Trim()}");
            var medians = new double[stores.Length];
            for (var v = 0; v < stores.Length; v++)
            {
                Array.Sort(ticks[v]);
                medians[v] = Us(ticks[v][iterations / 2]);
                Console.WriteLine($"  {names[v],-10} p50 {medians[v],8:F2} us  p99 {Us(ticks[v][(int)(iterations * 0.99)]),8:F2} us  p99.9 {Us(ticks[v][(int)(iterations * 0.999)]),8:F2} us");
            }

            Console.WriteLine($"  ratio of medians: rate 0.01 / off = {medians[1] / medians[0]:F3}, rate 1.0 / off = {medians[2] / medians[0]:F3}");
            foreach (var log in logs)
            {
                await log.DisposeAsync();
            }

            for (var l = 0; l < logs.Length; l++)
            {
                Console.WriteLine($"  log {names[l + 1]}: sampled {logs[l].Sampled}, dropped {logs[l].Dropped}, rows written {logs[l].RowsWritten} in {logs[l].Files} files, failed {logs[l].FailedRows}");
            }

            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }

            return 0;
        }
        finally
        {
            await online.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    private static double Us(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
