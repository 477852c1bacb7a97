using BenchmarkDotNet.Attributes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// The cost of data-quality rules on the push path (docs/quality.md#rules): <see cref="FeatureStore.PushAsync"/> of
/// <see cref="RowsPerOp"/> rows to a push source read by a plain view (<c>amount</c>, <c>merchant</c>) and an
/// aggregation view (sum of <c>amount</c> over 1 h), in-memory store. Three stores side by side in one run: no rules
/// (the baseline), numeric rules only (<c>nullable: false, min, max</c> on <c>amount</c>), and numeric plus string
/// rules (<c>allowed</c> of 30 values, <c>regex</c>, <c>max_length</c> on <c>merchant</c>). Every row passes every
/// rule, so this measures checking, not dead-lettering. Times are per row.
/// </summary>
[MemoryDiagnoser]
public class QualityRuleBenchmarks
{
    private const int RowsPerOp = 1_000;

    private FeatureStore _none = null!;
    private FeatureStore _numeric = null!;
    private FeatureStore _all = null!;
    private ColumnTable _rows = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _none = await OpenAsync(numeric: false, strings: false);
        _numeric = await OpenAsync(numeric: true, strings: false);
        _all = await OpenAsync(numeric: true, strings: true);
        var random = new Random(20261129);
        var now = DateTimeOffset.UtcNow;
        _rows = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["account_id"] = [.. Enumerable.Range(0, RowsPerOp).Select(i => FeatureValue.FromString($"a{i}"))],
            ["amount"] = [.. Enumerable.Range(0, RowsPerOp).Select(_ => FeatureValue.FromFloat64(Math.Round(random.NextDouble() * 500, 2)))],
            ["merchant"] = [.. Enumerable.Range(0, RowsPerOp).Select(i => FeatureValue.FromString($"m{i % 30}"))],
            ["ts"] = [.. Enumerable.Range(0, RowsPerOp).Select(_ => FeatureValue.FromTimestamp(now.AddSeconds(-random.Next(1, 1800))))],
        });
        foreach (var store in new[] { _none, _numeric, _all })
        {
            var result = await store.PushAsync("tx", _rows, PushTarget.Online);
            if (result.EventsRejected != 0 || result.EventsAggregated != RowsPerOp)
            {
                throw new InvalidOperationException($"setup push: {result.EventsRejected} rejected, {result.EventsAggregated} aggregated");
            }
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _none.DisposeAsync();
        await _numeric.DisposeAsync();
        await _all.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = RowsPerOp, Description = "push, no rules")]
    public async Task<int> NoRules() => (await _none.PushAsync("tx", _rows, PushTarget.Online)).EventsAggregated;

    [Benchmark(OperationsPerInvoke = RowsPerOp, Description = "push, numeric rules")]
    public async Task<int> NumericRules() => (await _numeric.PushAsync("tx", _rows, PushTarget.Online)).EventsAggregated;

    [Benchmark(OperationsPerInvoke = RowsPerOp, Description = "push, numeric + string rules")]
    public async Task<int> AllRules() => (await _all.PushAsync("tx", _rows, PushTarget.Online)).EventsAggregated;

    private static async Task<FeatureStore> OpenAsync(bool numeric, bool strings)
    {
        var amountRules = numeric ? new FieldRules { Nullable = false, Min = 0, Max = 1_000_000 } : null;
        var merchantRules = strings ? new FieldRules { Allowed = [.. Enumerable.Range(0, 30).Select(i => $"m{i}")], Regex = "^m[0-9]+$", MaxLength = 16 } : null;
        var repo = new RepoBuilder("quality_bench")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx")
            {
                TimestampField = "ts",
                Schema =
                [
                    new("ts", FeatureType.Of(ScalarKind.Timestamp)),
                    new("account_id", FeatureType.Of(ScalarKind.String)),
                    new("amount", FeatureType.Of(ScalarKind.Float64)) { Rules = amountRules },
                    new("merchant", FeatureType.Of(ScalarKind.String)) { Rules = merchantRules },
                ],
            })
            .Add(new FeatureView("last_tx", ["account"], "tx", [new Field("amount", FeatureType.Of(ScalarKind.Float64)), new Field("merchant", FeatureType.Of(ScalarKind.String))]))
            .Add(new AggregationView("tx_stats", ["account"], "tx", [new Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromHours(1))]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "bench", DateTimeOffset.UtcNow), 0);
        return await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), repo.Config, ".", new FeatureStoreOptions { MaxWriteRows = 10_000 });
    }
}
