using System.Diagnostics;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// Push → visible latency, embedded: push one event through <see cref="FeatureStore.PushAsync"/> to RocksDB and
/// read <c>tx_stats:count_1h</c> through <see cref="FeatureStore.GetOnlineFeaturesAsync"/> until the count shows
/// it. One sample is the time from before the push to the first read that shows the event. BenchmarkDotNet
/// measures means, not tails, hence this separate mode (<c>-- latency [iterations] [store]</c>).
/// </summary>
internal static class PushLatencyProbe
{
    private const int Entities = 1_000;
    private const int Warmup = 2_000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(120);

    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
        var kind = args.Length > 2 ? args[2] : "rocksdb";
        string? directory = null;
        var store = await StreamingScenario.OpenAsync(StreamingScenario.OpenOnline(kind, ref directory));
        try
        {
            var counts = new long[Entities];
            var random = new Random(20261129);
            var samples = new long[iterations];
            var reads = 0L;
            var total = Stopwatch.StartNew();
            var measured = 0;
            for (var i = 0; i < Warmup + iterations && total.Elapsed < Budget; i++)
            {
                var entity = random.Next(Entities);
                var id = FeatureValue.FromString($"acct{entity}");

                // A millisecond in the past: the window is t < T, and the read's T must be after the event.
                var rows = new ColumnTable(new Dictionary<string, FeatureValue[]>
                {
                    ["account_id"] = [id],
                    ["amount"] = [FeatureValue.FromFloat64(1.5)],
                    ["ts"] = [FeatureValue.FromTimestamp(DateTimeOffset.UtcNow.AddMilliseconds(-1))],
                });
                var request = new OnlineRequest
                {
                    Features = ["tx_stats:count_1h"],
                    Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [id] },
                };
                var expected = ++counts[entity];

                var start = Stopwatch.GetTimestamp();
                await store.PushAsync(StreamingScenario.Source, rows, PushTarget.Online);
                while (true)
                {
                    reads++;
                    var response = await store.GetOnlineFeaturesAsync(request);
                    if (response.Columns[1].Statuses[0] == FieldStatus.Present && response.Columns[1].Values[0].AsInt64() >= expected)
                    {
                        break;
                    }

                    if (Stopwatch.GetElapsedTime(start) > TimeSpan.FromSeconds(5))
                    {
                        throw new InvalidOperationException($"event {i} not visible after 5 s");
                    }
                }

                var elapsed = Stopwatch.GetTimestamp() - start;
                if (i >= Warmup)
                {
                    samples[measured++] = elapsed;
                }
            }

            Array.Sort(samples, 0, measured);
            double Ms(double q) => samples[Math.Min(measured - 1, (int)Math.Ceiling(q * measured) - 1)] * 1000.0 / Stopwatch.Frequency;
            Console.WriteLine($"push -> visible, embedded FeatureStore, {kind}: {measured} samples after {Warmup} warm-up, {reads - Warmup} reads, {total.Elapsed.TotalSeconds:F1} s total");
            Console.WriteLine($"p50 {Ms(0.50):F3} ms  p90 {Ms(0.90):F3} ms  p99 {Ms(0.99):F3} ms  p99.9 {Ms(0.999):F3} ms  max {samples[measured - 1] * 1000.0 / Stopwatch.Frequency:F3} ms");
            return 0;
        }
        finally
        {
            await store.DisposeAsync();
            if (directory is not null)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}
