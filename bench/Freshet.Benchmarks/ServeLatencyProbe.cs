using System.Diagnostics;
using System.Globalization;
using System.Text;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Redis;
using Freshet.Registry;
using Freshet.RocksDb;
using Freshet.Server;
using Freshet.Serving;
using Freshet.Values;
using StackExchange.Redis;

namespace Freshet.Benchmarks;

/// <summary>
/// Serving latency percentiles (not means) for one store, <c>-- serve-latency [iterations] --store rocksdb|redis</c>:
/// one view of 10 features over 10,000 entities, then, interleaved per iteration, (1) the raw
/// <see cref="IOnlineStore.ReadAsync"/> of one key, (2) <see cref="FeatureStore.GetOnlineFeaturesAsync"/> of
/// 1 entity x 10 features and (3) the same request as <c>POST /get-online-features</c> to an in-process
/// <see cref="FreshetServer"/> on 127.0.0.1 through one keep-alive <see cref="HttpClient"/>. With <c>redis</c> a
/// local redis-server is started (<see cref="BenchRedis"/>) and, before the reads, 10,000 rows are written 5 times
/// alternately as a raw pipelined <c>SET</c> and through <see cref="RedisOnlineStore.WriteAsync"/> (ratio of
/// medians).
/// </summary>
internal static class ServeLatencyProbe
{
    private const int Entities = 10_000;
    private const int Features = 10;
    private const int Warmup = 1_000;
    private const string View = "view0";

    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out var n) ? n : 5_000;
        var storeIndex = Array.IndexOf(args, "--store");
        var kind = storeIndex >= 0 && storeIndex + 1 < args.Length ? args[storeIndex + 1] : "rocksdb";
        if (kind is not ("rocksdb" or "redis"))
        {
            Console.Error.WriteLine($"--store must be rocksdb or redis, not '{kind}'");
            return 2;
        }

        string? directory = null;
        BenchRedis? redis = null;
        IOnlineStore online;
        if (kind == "redis")
        {
            redis = BenchRedis.Start();
            online = RedisOnlineStore.Connect(redis.ConnectionString);
        }
        else
        {
            directory = Directory.CreateTempSubdirectory("freshet-bench-").FullName;
            online = RocksDbOnlineStore.Open(directory);
        }

        try
        {
            var builder = new RepoBuilder("bench").Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]));
            builder.Add(new PushSource("events") { TimestampField = "ts" });
            var schema = Enumerable.Range(0, Features)
                .Select(f => new Field($"f{f}", f % 2 == 0 ? FeatureType.Of(ScalarKind.Float64) : FeatureType.Of(ScalarKind.Int64)))
                .ToList();
            builder.Add(new FeatureView(View, ["user"], "events", schema));
            var repo = builder.Build().GetValueOrThrow();
            var registry = new InMemoryRegistryStore();
            var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
            await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "bench", DateTimeOffset.UtcNow), 0);
            await using var store = await FeatureStore.OpenAsync(registry, online, repo.Config, ".");

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

            await store.WriteToOnlineStoreAsync(View, new ColumnTable(columns));
            if (online is RedisOnlineStore redisStore)
            {
                await WriteRatioAsync(redisStore);
            }

            await using var server = await FreshetServer.StartAsync(store, new FreshetServerOptions { Port = 0, GrpcPort = -1 });
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
            var features = Enumerable.Range(0, Features).Select(f => $"{View}:f{f}").ToArray();
            var featureJson = string.Join(", ", features.Select(f => $"\"{f}\""));
            var random = new Random(20261129);
            var raw = new long[iterations];
            var direct = new long[iterations];
            var http = new long[iterations];
            var rows = new byte[]?[1];
            var measured = 0;
            var total = Stopwatch.StartNew();
            for (var i = 0; i < Warmup + iterations; i++)
            {
                var id = random.Next(Entities);
                var key = new OnlineKey[] { new(View, EntityKeyCodec.Encode([FeatureValue.FromInt64(id)])) };
                var request = new OnlineRequest
                {
                    Features = features,
                    Entities = new Dictionary<string, FeatureValue[]> { ["user_id"] = [FeatureValue.FromInt64(id)] },
                };

                var start = Stopwatch.GetTimestamp();
                await online.ReadAsync(key, rows);
                var rawTicks = Stopwatch.GetTimestamp() - start;
                if (rows[0] is null)
                {
                    throw new InvalidOperationException($"entity {id} not found by the raw read");
                }

                start = Stopwatch.GetTimestamp();
                var response = await store.GetOnlineFeaturesAsync(request);
                var directTicks = Stopwatch.GetTimestamp() - start;
                if (response.Columns[1].Statuses[0] != FieldStatus.Present)
                {
                    throw new InvalidOperationException($"entity {id} not present through FeatureStore");
                }

                start = Stopwatch.GetTimestamp();
                using (var got = await client.PostAsync("/get-online-features", new StringContent($$$"""{"features": [{{{featureJson}}}], "entities": {"user_id": [{{{id}}}]}}""", Encoding.UTF8, "application/json")))
                {
                    var body = await got.Content.ReadAsStringAsync();
                    got.EnsureSuccessStatusCode();
                    if (!body.Contains("PRESENT", StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException($"entity {id} not present over HTTP: {body}");
                    }
                }

                var httpTicks = Stopwatch.GetTimestamp() - start;
                if (i >= Warmup)
                {
                    raw[measured] = rawTicks;
                    direct[measured] = directTicks;
                    http[measured] = httpTicks;
                    measured++;
                }
            }

            Console.WriteLine($"serve-latency, {kind}: 1 entity x {Features} features, {measured} samples each after {Warmup} warm-up, {total.Elapsed.TotalSeconds:F1} s, load {File.ReadAllText("/proc/loadavg").Trim()}");
            Report("raw store read (1 key)", raw, measured);
            Report("FeatureStore read", direct, measured);
            Report("HTTP /get-online-features", http, measured);
            return 0;
        }
        finally
        {
            redis?.Dispose();
            if (directory is not null)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static async Task WriteRatioAsync(RedisOnlineStore store)
    {
        var hashes = Enumerable.Range(0, Features).Select(f => RowCodec.NameHash($"w{f}")).ToArray();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        var writes = new OnlineWrite[Entities];
        var keys = new RedisKey[Entities];
        var layout = new RedisKeys(RedisOnlineStoreOptions.DefaultKeyPrefix);
        for (var i = 0; i < Entities; i++)
        {
            var values = Enumerable.Range(0, Features).Select(f => f % 2 == 0 ? FeatureValue.FromFloat64(i * 0.5) : FeatureValue.FromInt64(i)).ToArray();
            var entity = EntityKeyCodec.Encode([FeatureValue.FromInt64(i)]);
            writes[i] = new OnlineWrite("write_probe", entity, RowCodec.Write(now, now, hashes, values));
            keys[i] = layout.Key("write_probe", entity);
        }

        var db = store.Connection.GetDatabase();
        const int Rounds = 7;
        var rawTimes = new double[Rounds];
        var storeTimes = new double[Rounds];
        for (var round = 0; round < Rounds; round++)
        {
            var start = Stopwatch.GetTimestamp();
            var calls = new Task<bool>[Entities];
            for (var i = 0; i < Entities; i++)
            {
                calls[i] = db.StringSetAsync(keys[i], writes[i].Row);
            }

            await Task.WhenAll(calls);
            rawTimes[round] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

            start = Stopwatch.GetTimestamp();
            var stored = await store.WriteAsync(writes);
            storeTimes[round] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (stored != Entities)
            {
                throw new InvalidOperationException($"WriteAsync stored {stored} of {Entities}");
            }
        }

        Array.Sort(rawTimes);
        Array.Sort(storeTimes);
        var rawMedian = rawTimes[Rounds / 2];
        var storeMedian = storeTimes[Rounds / 2];
        Console.WriteLine($"write {Entities} rows x {Features} features, {Rounds} alternating rounds: raw pipelined SET median {rawMedian:F1} ms (min {rawTimes[0]:F1}), RedisOnlineStore.WriteAsync median {storeMedian:F1} ms (min {storeTimes[0]:F1}); throughput ratio (raw time / store time) {rawMedian / storeMedian:F2} (medians), {rawTimes[0] / storeTimes[0]:F2} (mins)");
    }

    private static void Report(string what, long[] ticks, int count)
    {
        Array.Sort(ticks, 0, count);
        double Ms(double q) => ticks[Math.Min(count - 1, (int)Math.Ceiling(q * count) - 1)] * 1000.0 / Stopwatch.Frequency;
        Console.WriteLine($"  {what,-28} p50 {Ms(0.50):F3} ms  p99 {Ms(0.99):F3} ms  p99.9 {Ms(0.999):F3} ms  max {ticks[count - 1] * 1000.0 / Stopwatch.Frequency:F3} ms");
    }
}
