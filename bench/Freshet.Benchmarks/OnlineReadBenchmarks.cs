using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Redis;
using Freshet.Registry;
using Freshet.RocksDb;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// In-process online reads through <see cref="FeatureStore"/>: the cost of the serving path without HTTP,
/// over the in-memory and the embedded RocksDB store. Scenario (a) 1 entity x 10 features of one view;
/// (b) 100 entities x 50 features over 5 views. Each scenario has a baseline: the raw
/// <see cref="IOnlineStore.ReadAsync"/> of the same keys, already encoded, into a reused row array (the
/// store's limit), so the ratio column is Freshet's serving overhead over the store it reads.
/// </summary>
/// <remarks>
/// Entity ids are drawn from a seeded random sequence over <see cref="Entities"/> stored entities and cycled
/// through per invocation, so reads do not all hit one key. The RocksDB store is written, closed and reopened
/// before measuring: reopening flushes the recovered write-ahead log to a table file, so reads go through
/// the block cache rather than only the memtable.
/// </remarks>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class OnlineReadBenchmarks
{
    private const int Views = 5;
    private const int FeaturesPerView = 10;
    private const int Entities = 10_000;
    private const int WideRows = 100;

    // Requests are pre-generated and cycled so every invocation reads other keys.
    private const int Requests = 1024;

    private const string OneByTen = "1x10";
    private const string HundredByFifty = "100x50";

    private string? _directory;
    private BenchRedis? _redis;
    private FeatureStore _store = null!;
    private IOnlineStore _online = null!;
    private Scenario _one = null!;
    private Scenario _hundred = null!;

    [Params("memory", "rocksdb", "redis")]
    public string Store { get; set; } = "memory";

    [GlobalSetup]
    public async Task Setup()
    {
        var builder = new RepoBuilder("bench").Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]));
        builder.Add(new PushSource("events") { TimestampField = "ts" });
        for (var v = 0; v < Views; v++)
        {
            var schema = Enumerable.Range(0, FeaturesPerView)
                .Select(f => new Field($"f{v}_{f}", f % 2 == 0 ? FeatureType.Of(ScalarKind.Float32) : FeatureType.Of(ScalarKind.Int64)))
                .ToList();
            builder.Add(new FeatureView($"view{v}", ["user"], "events", schema));
        }

        var repo = builder.Build().GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "bench", DateTimeOffset.UtcNow), 0);

        _online = OpenOnline();
        _store = await FeatureStore.OpenAsync(registry, _online, repo.Config, ".");
        var ts = FeatureValue.FromTimestamp(DateTimeOffset.UtcNow);
        for (var v = 0; v < Views; v++)
        {
            var columns = new Dictionary<string, FeatureValue[]>
            {
                ["user_id"] = [.. Enumerable.Range(0, Entities).Select(i => FeatureValue.FromInt64(i))],
                ["ts"] = [.. Enumerable.Range(0, Entities).Select(_ => ts)],
            };
            for (var f = 0; f < FeaturesPerView; f++)
            {
                columns[$"f{v}_{f}"] = [.. Enumerable.Range(0, Entities).Select(i => f % 2 == 0 ? FeatureValue.FromFloat64(i * 0.5) : FeatureValue.FromInt64(i))];
            }

            await _store.WriteToOnlineStoreAsync($"view{v}", new ColumnTable(columns));
        }

        if (_directory is not null)
        {
            await _store.DisposeAsync();
            _online = OpenOnline();
            _store = await FeatureStore.OpenAsync(registry, _online, repo.Config, ".");
        }

        var random = new Random(20261129);
        _one = Scenario.Create(random, 1, 1);
        _hundred = Scenario.Create(random, Views, WideRows);
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _store.DisposeAsync();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }

        _redis?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "raw store read")]
    [BenchmarkCategory(OneByTen)]
    public ValueTask RawOneEntity() => _one.ReadRaw(_online);

    [Benchmark(Description = "FeatureStore read")]
    [BenchmarkCategory(OneByTen)]
    public ValueTask<OnlineResponse> OneEntityTenFeatures() => _store.GetOnlineFeaturesAsync(_one.Next());

    [Benchmark(Baseline = true, Description = "raw store read")]
    [BenchmarkCategory(HundredByFifty)]
    public ValueTask RawHundredEntities() => _hundred.ReadRaw(_online);

    [Benchmark(Description = "FeatureStore read")]
    [BenchmarkCategory(HundredByFifty)]
    public ValueTask<OnlineResponse> HundredEntitiesFiftyFeatures() => _store.GetOnlineFeaturesAsync(_hundred.Next());

    private IOnlineStore OpenOnline()
    {
        if (Store == "memory")
        {
            return new InMemoryOnlineStore();
        }

        if (Store == "redis")
        {
            // A local redis-server started for the run: every read is one MGET round trip over loopback.
            _redis ??= BenchRedis.Start();
            return RedisOnlineStore.Connect(_redis.ConnectionString);
        }

        _directory ??= Directory.CreateTempSubdirectory("freshet-bench-").FullName;
        return RocksDbOnlineStore.Open(_directory);
    }

    /// <summary>Pre-generated requests of one shape and, for each, the store keys it reads.</summary>
    private sealed class Scenario
    {
        private readonly OnlineRequest[] _requests;
        private readonly OnlineKey[][] _keys;
        private readonly byte[]?[] _rows;
        private int _next;
        private int _nextRaw;

        private Scenario(OnlineRequest[] requests, OnlineKey[][] keys, int keysPerRequest)
        {
            _requests = requests;
            _keys = keys;
            _rows = new byte[]?[keysPerRequest];
        }

        public static Scenario Create(Random random, int views, int rows)
        {
            var features = Enumerable.Range(0, views).SelectMany(v => Enumerable.Range(0, FeaturesPerView).Select(f => $"view{v}:f{v}_{f}")).ToArray();
            var requests = new OnlineRequest[Requests];
            var keys = new OnlineKey[Requests][];
            for (var i = 0; i < Requests; i++)
            {
                var ids = new FeatureValue[rows];
                for (var r = 0; r < rows; r++)
                {
                    ids[r] = FeatureValue.FromInt64(random.Next(Entities));
                }

                requests[i] = new OnlineRequest
                {
                    Features = features,
                    Entities = new Dictionary<string, FeatureValue[]> { ["user_id"] = ids },
                };

                // The same keys, in the same order, as FeatureStore asks the store for: view-major.
                keys[i] = new OnlineKey[views * rows];
                for (var v = 0; v < views; v++)
                {
                    for (var r = 0; r < rows; r++)
                    {
                        keys[i][(v * rows) + r] = new OnlineKey($"view{v}", EntityKeyCodec.Encode([ids[r]]));
                    }
                }
            }

            return new Scenario(requests, keys, views * rows);
        }

        public OnlineRequest Next() => _requests[_next++ & (Requests - 1)];

        public ValueTask ReadRaw(IOnlineStore online) => online.ReadAsync(_keys[_nextRaw++ & (Requests - 1)], _rows);
    }
}
