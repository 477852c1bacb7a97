using System.Collections;
using System.Globalization;
using Freshet.Aggregates;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>
/// DESIGN §3 consistency: an aggregation view offline at T equals what the online store serves at T after the same
/// events, and on-demand features offline equal the online evaluator's. The online side runs the real engine on an
/// in-memory store with its clock set to T.
/// </summary>
public sealed class HistoricalAggregationTests : IDisposable
{
    private const string Definitions = """
        entities:
          - {name: account, join_keys: [{name: account_id, type: string}]}
        sources:
          - name: txn_archive
            type: file
            path: data/txns/*.parquet
            timestamp_field: ts
            schema: &txn
              - {name: ts, type: timestamp}
              - {name: account_id, type: string}
              - {name: merchant_id, type: string}
              - {name: amount, type: float64}
              - {name: card_present, type: bool}
          - name: txns
            type: push
            batch_source: txn_archive
            timestamp_field: ts
            schema: *txn
          - name: scoring_request
            type: request
            schema:
              - {name: request_amount, type: float64}
        aggregation_views:
          - name: stats
            entities: [account]
            source: txns
            aggregations:
              - {function: count, window: 1h}
              - {function: sum, column: amount, window: 24h}
              - {function: mean, column: amount, window: 6h}
              - {function: min, column: amount, window: 2h}
              - {function: max, column: amount, window: 2h}
              - {function: last, column: merchant_id, window: 1h}
              - {function: first, column: ts, window: 6h}
              - {function: count_distinct, column: merchant_id, window: 24h}
              - {function: last_n, column: merchant_id, window: 1d, k: 3}
              - {function: stddev, column: amount, window: 6h}
              - {function: approx_percentile, column: amount, window: 24h, p: 0.5}
              - {function: sum, column: amount, window: 1h, filter: "card_present == false", name: cnp_sum_1h}
        on_demand_views:
          - name: ratio
            inputs: [scoring_request, stats]
            features:
              - {name: amount_ratio, type: float64, expression: "request_amount / amount_mean_6h"}
        """;

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2024-06-01T00:00:00Z", CultureInfo.InvariantCulture);
    private readonly HistoricalRepo _repo = new(Definitions);

    public void Dispose() => _repo.Dispose();

    private sealed record Txn(long Micros, string Account, string Merchant, double Amount, bool CardPresent);

    private sealed record Label(string Account, long Micros, double RequestAmount);

    [Theory]
    [InlineData(1)]
    [InlineData(5)] // Key-hash buckets swept one after another, some empty (three accounts): the same values.
    public async Task Aggregations_and_on_demand_offline_equal_the_online_engine_at_the_same_times(int buckets)
    {
        var random = new Random(20240601);
        var start = Micros.From(Start);
        var accounts = new[] { "a1", "a2", "a3" };
        var used = new HashSet<long>();
        var txns = new List<Txn>();
        while (txns.Count < 240)
        {
            // Distinct times (first/last ties would depend on arrival order), within 20h so no event is too late at any T.
            var t = start + (long)(random.NextDouble() * 20 * 3600e6);
            if (used.Add(t))
            {
                txns.Add(new Txn(t, accounts[random.Next(accounts.Length)], $"m{random.Next(6)}", Math.Round(random.NextDouble() * 500, 2), random.Next(2) == 0));
            }
        }

        // Two archive files, so the source is a glob over both.
        WriteTxns("data/txns/part-1.parquet", txns.Take(120));
        WriteTxns("data/txns/part-2.parquet", txns.Skip(120));

        var labels = new List<Label>();
        for (var i = 0; i < 36; i++)
        {
            labels.Add(new Label(accounts[random.Next(accounts.Length)], start - 3_600_000_000 + (long)(random.NextDouble() * 22 * 3600e6), 1 + random.Next(300)));
        }

        // On an event's own time (the strict bound leaves it out), before every event, and an account without events.
        labels.AddRange(txns.Take(6).Select(t => new Label(t.Account, t.Micros, 10)));
        labels.Add(new Label("a1", start - 1, 5));
        labels.Add(new Label("nobody", start + 3_600_000_000, 5));

        var entities = _repo.File("labels.parquet");
        PlainDuckDb.WriteParquet(entities, "SELECT * FROM (VALUES " + string.Join(", ", labels.Select((l, i) =>
            $"('{l.Account}', make_timestamp({l.Micros})::TIMESTAMPTZ, {l.RequestAmount.ToString("R", CultureInfo.InvariantCulture)}::DOUBLE, {i})")) +
            ") AS t(account_id, event_timestamp, request_amount, label)");

        // The whole view (every aggregation) and the on-demand feature over it.
        string[] features = ["stats", "ratio:amount_ratio"];
        var offline = await _repo.RunAsync(entities, features, options: new DuckDbHistoricalOptions { AggregationBuckets = buckets });
        Assert.Equal(labels.Count, offline.Count);

        var config = RepoLoader.Load(_repo.Path).GetValueOrThrow().Config;
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(_repo.Registry.State, 0);
        var nonNull = 0;
        for (var i = 0; i < labels.Count; i++)
        {
            var label = labels[i];
            Assert.Equal(i, Convert.ToInt32(offline[i]["label"], CultureInfo.InvariantCulture));
            var online = await OnlineAsync(registry, config, label, txns.Where(t => t.Account == label.Account && t.Micros < label.Micros).ToList(), features);
            for (var f = 0; f < online.FeatureNames.Count; f++)
            {
                var name = online.FeatureNames[f];
                if (name == "account_id")
                {
                    continue;
                }

                var expected = online.Columns[f].Values[0];
                var actual = offline[i][name];
                AssertSame(expected, actual, $"row {i} ({label.Account} at {Micros.ToRfc3339(label.Micros)}), {name}");
                nonNull += expected.IsNull ? 0 : 1;
            }
        }

        // The comparison is not vacuous: most values are present.
        Assert.True(nonNull > labels.Count * 6, $"only {nonNull} non-null values");
        var before = offline[labels.Count - 2];
        Assert.Null(before["count_1h"]);
        Assert.Null(before["amount_ratio"]);
    }

    private async Task<OnlineResponse> OnlineAsync(InMemoryRegistryStore registry, RepoConfig config, Label label, List<Txn> events, string[] features)
    {
        await using var store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), config, _repo.Path, new FeatureStoreOptions { Clock = new FixedClock(Micros.ToDateTimeOffset(label.Micros)) });
        if (events.Count > 0)
        {
            var view = (AggregationView)store.Registry.Index.View("stats")!.Value.View;
            var compiled = store.Registry.Aggregation(view);
            var table = new ColumnTable(new Dictionary<string, FeatureValue[]>
            {
                ["ts"] = [.. events.Select(e => FeatureValue.FromTimestampMicros(e.Micros))],
                ["account_id"] = [.. events.Select(e => FeatureValue.FromString(e.Account))],
                ["merchant_id"] = [.. events.Select(e => FeatureValue.FromString(e.Merchant))],
                ["amount"] = [.. events.Select(e => FeatureValue.FromFloat64(e.Amount))],
                ["card_present"] = [.. events.Select(e => FeatureValue.FromBool(e.CardPresent))],
            });
            var (converted, rejected) = AggregationEngine.ToEvents(compiled, table, rejectBadRows: true);
            Assert.Empty(rejected);
            var result = await store.Engine.ApplyAsync(compiled, converted);
            Assert.Empty(result.Rejected);
        }

        return await store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = features,
            Entities = new Dictionary<string, FeatureValue[]>
            {
                ["account_id"] = [FeatureValue.FromString(label.Account)],
                ["request_amount"] = [FeatureValue.FromFloat64(label.RequestAmount)],
            },
        });
    }

    private static void AssertSame(FeatureValue expected, object? actual, string what)
    {
        switch (expected.Kind)
        {
            case ValueKind.Null:
                Assert.True(actual is null, $"{what}: expected null, got {actual}");
                break;
            case ValueKind.Float64:
                var e = expected.AsFloat64();
                var a = Convert.ToDouble(actual, CultureInfo.InvariantCulture);
                Assert.True(Math.Abs(e - a) <= 1e-12 * Math.Max(1, Math.Abs(e)), $"{what}: expected {e:R}, got {a:R}");
                break;
            case ValueKind.Int64:
                Assert.Equal((object)expected.AsInt64(), actual);
                break;
            case ValueKind.String:
                Assert.Equal((object)expected.AsString(), actual);
                break;
            case ValueKind.Timestamp:
                // DuckDB.NET reads a TIMESTAMPTZ as a DateTime in the session zone (UTC here).
                var micros = actual switch
                {
                    DateTimeOffset o => Micros.From(o),
                    DateTime d => (d.Ticks - DateTime.UnixEpoch.Ticks) / 10,
                    _ => throw new InvalidOperationException($"{what}: {actual} is not a time"),
                };
                Assert.True(micros == expected.TimestampMicros, $"{what}: expected {Micros.ToRfc3339(expected.TimestampMicros)}, got {Micros.ToRfc3339(micros)}");
                break;
            case ValueKind.StringList:
                Assert.Equal((string[])expected.AsList(), ((IEnumerable)actual!).Cast<string>());
                break;
            default:
                Assert.Fail($"{what}: no comparison for {expected.Kind}");
                break;
        }
    }

    private void WriteTxns(string relative, IEnumerable<Txn> txns) =>
        PlainDuckDb.WriteParquet(_repo.File(relative), "SELECT * FROM (VALUES " + string.Join(", ", txns.Select(t =>
            $"(make_timestamp({t.Micros}), '{t.Account}', '{t.Merchant}', {t.Amount.ToString("R", CultureInfo.InvariantCulture)}::DOUBLE, {(t.CardPresent ? "true" : "false")})")) +
            ") AS t(ts, account_id, merchant_id, amount, card_present)");

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
