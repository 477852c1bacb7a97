using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Freshet.Server;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// Push → visible latency, embedded: push one event through <see cref="FeatureStore.PushAsync"/> to RocksDB and
/// read <c>tx_stats:count_1h</c> through <see cref="FeatureStore.GetOnlineFeaturesAsync"/> until the count shows
/// it. One sample is the time from before the push to the first read that shows the event. BenchmarkDotNet
/// measures means, not tails, hence this separate mode (<c>-- latency [iterations] [memory|rocksdb] [embedded|http]</c>).
/// With <c>http</c> the same store is served by an in-process <see cref="FreshetServer"/> on 127.0.0.1 and the
/// sample is <c>POST /push</c> then <c>POST /get-online-features</c> through one keep-alive <see cref="HttpClient"/>.
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
        var http = args.Length > 3 && args[3] == "http";
        string? directory = null;
        var store = await StreamingScenario.OpenAsync(StreamingScenario.OpenOnline(kind, ref directory));
        var server = http ? await FreshetServer.StartAsync(store, new FreshetServerOptions { Port = 0, GrpcPort = -1 }) : null;
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server?.HttpPort ?? 1}") };
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
                if (http)
                {
                    var ts = DateTimeOffset.UtcNow.AddMilliseconds(-1).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture);
                    using var pushed = await client.PostAsync("/push", Json($$$"""{"push_source_name": "tx", "df": {"account_id": ["acct{{{entity}}}"], "amount": [1.5], "ts": ["{{{ts}}}"]}, "to": "online"}"""));
                    pushed.EnsureSuccessStatusCode();
                }
                else
                {
                    await store.PushAsync(StreamingScenario.Source, rows, PushTarget.Online);
                }

                while (true)
                {
                    reads++;
                    if (http)
                    {
                        using var got = await client.PostAsync("/get-online-features", Json($$$"""{"features": ["tx_stats:count_1h"], "entities": {"account_id": ["acct{{{entity}}}"]}}"""));
                        var body = JsonNode.Parse(await got.Content.ReadAsStringAsync());
                        if (body?["results"]?[1]?["values"]?[0]?.GetValue<long>() >= expected)
                        {
                            break;
                        }
                    }
                    else
                    {
                        var response = await store.GetOnlineFeaturesAsync(request);
                        if (response.Columns[1].Statuses[0] == FieldStatus.Present && response.Columns[1].Values[0].AsInt64() >= expected)
                        {
                            break;
                        }
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
            Console.WriteLine($"push -> visible, {(http ? "HTTP on 127.0.0.1" : "embedded FeatureStore")}, {kind}: {measured} samples after {Warmup} warm-up, {reads - Warmup} reads, {total.Elapsed.TotalSeconds:F1} s total");
            Console.WriteLine($"p50 {Ms(0.50):F3} ms  p90 {Ms(0.90):F3} ms  p99 {Ms(0.99):F3} ms  p99.9 {Ms(0.999):F3} ms  max {samples[measured - 1] * 1000.0 / Stopwatch.Frequency:F3} ms");
            return 0;
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }

            await store.DisposeAsync();
            if (directory is not null)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
