using System.Text;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Protos.Serving;
using Freshet.Protos.Types;
using Freshet.Redis;
using Freshet.Registry;
using Freshet.RocksDb;
using Freshet.Serving;
using Freshet.Values;
using StackExchange.Redis;

namespace Freshet.LoadGen;

/// <summary>
/// A feature repo, its data in an online store, and the one request the load repeats in its three forms: the
/// Feast JSON body, the gRPC message and the Redis keys Freshet's Redis store reads for it.
/// <list type="bullet">
/// <item><c>a</c>: 1 entity x 10 features of one view.</item>
/// <item><c>b</c>: 100 entities x 50 features over 5 views of 10 features.</item>
/// <item><c>c</c>: the feature service <c>fraud</c> for 1 entity: an aggregation view over pushed events with 3
/// windows (<c>count</c> 1h, <c>sum(amount)</c> 1d, <c>mean(amount)</c> 7d) and 2 on-demand features of a
/// request field and those aggregates. Its rows are tiles, not one key per entity, so it has no raw Redis
/// baseline (<see cref="RedisKeys"/> is empty).</item>
/// <item><c>d</c>: reads while pushing. Push source <c>tx</c> (<c>user_id</c>, <c>seq</c>, <c>amount</c>, <c>ts</c>)
/// feeds the plain view <c>latest</c> (<c>seq</c>, <c>amount</c>) and the aggregation view <c>tx_stats</c>
/// (<c>count</c> over 1h). The read is 1 entity (<c>user_id</c> 0, which the pushes never touch, so its answer
/// stays fixed) x <c>latest:seq</c>, <c>latest:amount</c>, <c>tx_stats:count_1h</c>; a
/// <see cref="FreshnessProbe"/> pushes to the entities 1..<see cref="FreshnessProbe.ProbeEntities"/>. No raw
/// Redis baseline (tiles).</item>
/// </list>
/// Each view holds <see cref="Entities"/> rows; the request names fixed entities spread over them.
/// </summary>
internal sealed class Scenario : IAsyncDisposable
{
    public const int Entities = 10_000;
    private const int FeaturesPerView = 10;

    private readonly string? _directory;

    private Scenario(string name, FeatureStore store, IOnlineStore online, string? directory, byte[] httpBody, GetOnlineFeaturesRequest grpcRequest, RedisKey[] redisKeys)
    {
        Name = name;
        Store = store;
        Online = online;
        _directory = directory;
        HttpBody = httpBody;
        GrpcRequest = grpcRequest;
        RedisKeys = redisKeys;
    }

    public string Name { get; }

    public FeatureStore Store { get; }

    public IOnlineStore Online { get; }

    public byte[] HttpBody { get; }

    public GetOnlineFeaturesRequest GrpcRequest { get; }

    /// <summary>The keys of the request in the Redis layout (meaningful with a Redis store).</summary>
    public RedisKey[] RedisKeys { get; }

    public static readonly IReadOnlyList<string> Names = ["a", "b", "c", "d"];

    /// <summary>
    /// Builds scenario <paramref name="name"/> over a RocksDB store in a temp directory, over Redis at
    /// <paramref name="redis"/>, or (<paramref name="inMemory"/>) over the in-memory store; <paramref name="wrap"/>,
    /// when given, wraps the online store (tests delay writes).
    /// </summary>
    public static async Task<Scenario> CreateAsync(string name, string? redis, Func<IOnlineStore, IOnlineStore>? wrap = null, bool inMemory = false)
    {
        var (views, requestEntities) = name switch
        {
            "a" => (1, 1),
            "b" => (5, 100),
            "c" or "d" => (0, 1),
            _ => throw new ArgumentException($"unknown scenario '{name}' (known: {string.Join(", ", Names)})", nameof(name)),
        };

        string? directory = null;
        IOnlineStore online;
        if (redis is not null)
        {
            online = RedisOnlineStore.Connect(redis);
        }
        else if (inMemory)
        {
            online = new InMemoryOnlineStore();
        }
        else
        {
            directory = Directory.CreateTempSubdirectory("freshet-loadgen-").FullName;
            online = RocksDbOnlineStore.Open(directory);
        }

        if (wrap is not null)
        {
            online = wrap(online);
        }

        if (name == "c")
        {
            return await CreateServiceScenarioAsync(online, directory);
        }

        if (name == "d")
        {
            return await CreatePushScenarioAsync(online, directory);
        }

        var builder = new RepoBuilder("loadgen").Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]));
        builder.Add(new PushSource("events") { TimestampField = "ts" });
        var schema = Enumerable.Range(0, FeaturesPerView)
            .Select(f => new Field($"f{f}", f % 2 == 0 ? FeatureType.Of(ScalarKind.Float64) : FeatureType.Of(ScalarKind.Int64)))
            .ToList();
        for (var v = 0; v < views; v++)
        {
            builder.Add(new FeatureView($"view{v}", ["user"], "events", schema));
        }

        var repo = builder.Build().GetValueOrThrow();
        var store = await OpenStoreAsync(repo, online);

        var ts = FeatureValue.FromTimestamp(DateTimeOffset.UtcNow);
        var columns = new Dictionary<string, FeatureValue[]>
        {
            ["user_id"] = [.. Enumerable.Range(0, Entities).Select(i => FeatureValue.FromInt64(i))],
            ["ts"] = [.. Enumerable.Range(0, Entities).Select(_ => ts)],
        };
        for (var f = 0; f < FeaturesPerView; f++)
        {
            columns[$"f{f}"] = [.. Enumerable.Range(0, Entities).Select(i => f % 2 == 0 ? FeatureValue.FromFloat64(i * 0.5) : FeatureValue.FromInt64(i))];
        }

        for (var v = 0; v < views; v++)
        {
            await store.WriteToOnlineStoreAsync($"view{v}", new ColumnTable(columns));
        }

        // Fixed entities spread over the key space (the same request every time, so the bare endpoint's captured
        // answer is the right answer).
        var ids = Enumerable.Range(0, requestEntities).Select(e => (long)(e * (Entities / requestEntities) + 7) % Entities).ToArray();
        var features = new List<string>();
        for (var v = 0; v < views; v++)
        {
            for (var f = 0; f < FeaturesPerView; f++)
            {
                features.Add($"view{v}:f{f}");
            }
        }

        // Several views name their features alike (f0...): full names (view__f0) tell them apart.
        var fullNames = views > 1 ? "true" : "false";
        var json = $$$"""{"features": [{{{string.Join(", ", features.Select(f => $"\"{f}\""))}}}], "entities": {"user_id": [{{{string.Join(", ", ids)}}}]}, "full_feature_names": {{{fullNames}}}}""";
        var grpc = new GetOnlineFeaturesRequest { Features = new FeatureList(), FullFeatureNames = views > 1 };
        grpc.Features.Val.AddRange(features);
        var column = new RepeatedValue();
        column.Val.AddRange(ids.Select(id => new Value { Int64Val = id }));
        grpc.Entities["user_id"] = column;

        var layout = new RedisKeys(RedisOnlineStoreOptions.DefaultKeyPrefix);
        var keys = new List<RedisKey>();
        for (var v = 0; v < views; v++)
        {
            foreach (var id in ids)
            {
                keys.Add(layout.Key($"view{v}", EntityKeyCodec.Encode([FeatureValue.FromInt64(id)])));
            }
        }

        return new Scenario(name, store, online, directory, Encoding.UTF8.GetBytes(json), grpc, [.. keys]);
    }

    private static async Task<Scenario> CreateServiceScenarioAsync(IOnlineStore online, string? directory)
    {
        var repo = new RepoBuilder("loadgen")
            .Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new PushSource("tx")
            {
                TimestampField = "ts",
                Schema = [new("user_id", FeatureType.Of(ScalarKind.Int64)), new("amount", FeatureType.Of(ScalarKind.Float64)), new("ts", FeatureType.Of(ScalarKind.Timestamp))],
            })
            .Add(new AggregationView("txn_stats", ["user"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)),
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)),
                new Model.Aggregation(AggregationFunction.Mean, "amount", TimeSpan.FromDays(7)),
            ]))
            .Add(new RequestSource("req") { Schema = [new Field("amount", FeatureType.Of(ScalarKind.Float64))] })
            .Add(new OnDemandView("amount_vs_avg", ["req", "txn_stats"],
            [
                new OnDemandFeature("ratio_to_mean_7d", FeatureType.Of(ScalarKind.Float64), "amount / coalesce(amount_mean_7d, 1)"),
                new OnDemandFeature("share_of_sum_1d", FeatureType.Of(ScalarKind.Float64), "amount / (coalesce(amount_sum_1d, 0) + amount)"),
            ]))
            .Add(new FeatureService("fraud", ["txn_stats:count_1h", "txn_stats:amount_sum_1d", "txn_stats:amount_mean_7d", "amount_vs_avg:ratio_to_mean_7d", "amount_vs_avg:share_of_sum_1d"]))
            .Build()
            .GetValueOrThrow();
        var store = await OpenStoreAsync(repo, online);

        // 1,000 users x 5 events over the last 30 minutes, so every window has something.
        const int Users = 1_000;
        const int PerUser = 5;
        var now = DateTimeOffset.UtcNow;
        var ids = new FeatureValue[Users * PerUser];
        var amounts = new FeatureValue[ids.Length];
        var times = new FeatureValue[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = FeatureValue.FromInt64(i % Users);
            amounts[i] = FeatureValue.FromFloat64(10 + (i % 97));
            times[i] = FeatureValue.FromTimestamp(now.AddMinutes(-30 + (i / Users * 5)));
        }

        await store.PushAsync("tx", new ColumnTable(new Dictionary<string, FeatureValue[]> { ["user_id"] = ids, ["amount"] = amounts, ["ts"] = times }), PushTarget.Online);
        const long Id = 7;
        var json = $$$"""{"feature_service": "fraud", "entities": {"user_id": [{{{Id}}}], "amount": [42.5]}}""";
        var grpc = new GetOnlineFeaturesRequest { FeatureService = "fraud" };
        grpc.Entities["user_id"] = new RepeatedValue { Val = { new Value { Int64Val = Id } } };
        grpc.RequestContext["amount"] = new RepeatedValue { Val = { new Value { DoubleVal = 42.5 } } };
        return new Scenario("c", store, online, directory, Encoding.UTF8.GetBytes(json), grpc, []);
    }

    /// <summary>A feature store over <paramref name="online"/> with <paramref name="repo"/> applied to a fresh in-memory registry.</summary>
    private static async Task<FeatureStore> OpenStoreAsync(FeatureRepoDefinition repo, IOnlineStore online)
    {
        var registry = new InMemoryRegistryStore();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "loadgen", DateTimeOffset.UtcNow), 0);
        return await FeatureStore.OpenAsync(registry, online, repo.Config, ".");
    }

    private static async Task<Scenario> CreatePushScenarioAsync(IOnlineStore online, string? directory)
    {
        var repo = new RepoBuilder("loadgen")
            .Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new PushSource(FreshnessProbe.Source)
            {
                TimestampField = "ts",
                Schema =
                [
                    new("user_id", FeatureType.Of(ScalarKind.Int64)), new("seq", FeatureType.Of(ScalarKind.Int64)),
                    new("amount", FeatureType.Of(ScalarKind.Float64)), new("ts", FeatureType.Of(ScalarKind.Timestamp)),
                ],
            })
            .Add(new FeatureView("latest", ["user"], FreshnessProbe.Source, [new Field("seq", FeatureType.Of(ScalarKind.Int64)), new Field("amount", FeatureType.Of(ScalarKind.Float64))]))
            .Add(new AggregationView("tx_stats", ["user"], FreshnessProbe.Source, [new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1))]))
            .Build()
            .GetValueOrThrow();
        var store = await OpenStoreAsync(repo, online);

        // The read entity 0 gets 3 events; the probe's entities start empty.
        var now = DateTimeOffset.UtcNow;
        await store.PushAsync(FreshnessProbe.Source, new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["user_id"] = [FeatureValue.FromInt64(0), FeatureValue.FromInt64(0), FeatureValue.FromInt64(0)],
            ["seq"] = [FeatureValue.FromInt64(-3), FeatureValue.FromInt64(-2), FeatureValue.FromInt64(-1)],
            ["amount"] = [FeatureValue.FromFloat64(1.5), FeatureValue.FromFloat64(2.5), FeatureValue.FromFloat64(3.5)],
            ["ts"] = [FeatureValue.FromTimestamp(now.AddMinutes(-3)), FeatureValue.FromTimestamp(now.AddMinutes(-2)), FeatureValue.FromTimestamp(now.AddMinutes(-1))],
        }), PushTarget.Online);
        var features = new[] { "latest:seq", "latest:amount", "tx_stats:count_1h" };
        var json = $$$"""{"features": [{{{string.Join(", ", features.Select(f => $"\"{f}\""))}}}], "entities": {"user_id": [0]}}""";
        var grpc = new GetOnlineFeaturesRequest { Features = new FeatureList() };
        grpc.Features.Val.AddRange(features);
        grpc.Entities["user_id"] = new RepeatedValue { Val = { new Value { Int64Val = 0 } } };
        return new Scenario("d", store, online, directory, Encoding.UTF8.GetBytes(json), grpc, []);
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
