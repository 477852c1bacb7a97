using Freshet.Aggregates;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.RocksDb;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// The streaming benchmarks' repo: a push source <c>tx</c> and one aggregation view <c>tx_stats</c> with three
/// windowed aggregations (count 1h, sum(amount) 24h, mean(amount) 7d) keyed by <c>account_id</c>.
/// </summary>
internal static class StreamingScenario
{
    public const string Source = "tx";
    public const string View = "tx_stats";

    private static readonly Field[] TxSchema =
    [
        new("account_id", FeatureType.Of(ScalarKind.String)),
        new("amount", FeatureType.Of(ScalarKind.Float64)),
        new("ts", FeatureType.Of(ScalarKind.Timestamp)),
    ];

    public static Task<FeatureStore> OpenAsync(IOnlineStore online) => OpenAsync(online, new PushSource(Source), null);

    /// <summary>
    /// The scenario over another source of the same events (a Kafka or NATS source named <see cref="Source"/>); its
    /// timestamp field and schema are set here. Rejected events go to <paramref name="deadLetters"/> when given.
    /// </summary>
    public static async Task<FeatureStore> OpenAsync(IOnlineStore online, DataSource source, Ingestion.IDeadLetterSink? deadLetters)
    {
        var repo = new RepoBuilder("bench")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(source with { TimestampField = "ts", Schema = TxSchema })
            .Add(new AggregationView(View, ["account"], source.Name,
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)),
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)),
                new Model.Aggregation(AggregationFunction.Mean, "amount", TimeSpan.FromDays(7)),
            ]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "bench", DateTimeOffset.UtcNow), 0);
        return await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { DeadLetters = deadLetters });
    }

    public static CompiledAggregationView Compiled(FeatureStore store) =>
        CompiledAggregationView.Compile((AggregationView)store.Registry.Index.View(View)!.Value.View, store.Registry.Index);

    public static IOnlineStore OpenOnline(string kind, ref string? directory)
    {
        if (kind == "memory")
        {
            return new InMemoryOnlineStore();
        }

        directory ??= Directory.CreateTempSubdirectory("freshet-bench-").FullName;
        return RocksDbOnlineStore.Open(directory);
    }

    /// <summary><paramref name="count"/> seeded events over <paramref name="entities"/> accounts, within the hour before <paramref name="now"/>.</summary>
    public static ColumnTable Rows(int count, int entities, DateTimeOffset now, int seed)
    {
        var random = new Random(seed);
        var ids = new FeatureValue[count];
        var amounts = new FeatureValue[count];
        var times = new FeatureValue[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = FeatureValue.FromString($"acct{random.Next(entities)}");
            amounts[i] = FeatureValue.FromFloat64(Math.Round(random.NextDouble() * 300, 2));
            times[i] = FeatureValue.FromTimestamp(now.AddMilliseconds(-random.Next(1, 3_600_000)));
        }

        return new ColumnTable(new Dictionary<string, FeatureValue[]> { ["account_id"] = ids, ["amount"] = amounts, ["ts"] = times });
    }
}
