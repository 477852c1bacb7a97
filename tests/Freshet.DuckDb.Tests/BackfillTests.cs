using System.Globalization;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>
/// Lambda (DESIGN §3): half the events by backfill from the batch source and half by the stream give the same online
/// values as all of them by the stream; the stream skips the events before the cut-over, backfill ignores the ones
/// after it.
/// </summary>
public sealed class BackfillTests : IDisposable
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
          - name: live_only
            type: push
            timestamp_field: ts
            schema: *txn
        aggregation_views:
          - name: stats
            entities: [account]
            source: txns
            aggregations:
              - {function: count, window: 1h}
              - {function: count, window: 24h, name: events_24h}
              - {function: sum, column: amount, window: 24h}
              - {function: mean, column: amount, window: 6h}
              - {function: min, column: amount, window: 2h}
              - {function: max, column: amount, window: 2h}
              - {function: last, column: merchant_id, window: 1h}
              - {function: first, column: ts, window: 24h}
              - {function: count_distinct, column: merchant_id, window: 24h}
              - {function: last_n, column: merchant_id, window: 1d, k: 3}
              - {function: stddev, column: amount, window: 6h}
              - {function: approx_percentile, column: amount, window: 24h, p: 0.5}
              - {function: sum, column: amount, window: 1h, filter: "card_present == false", name: cnp_sum_1h}
          - name: live_stats
            entities: [account]
            source: live_only
            aggregations:
              - {function: count, window: 1h}
        """;

    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2024-06-01T00:00:00Z", CultureInfo.InvariantCulture);
    private static readonly DateTimeOffset Now = Start.AddHours(21);
    private static readonly string[] Accounts = ["a1", "a2", "a3", "a4"];
    private readonly HistoricalRepo _repo = new(Definitions);

    public void Dispose() => _repo.Dispose();

    private sealed record Txn(long Micros, string Account, string Merchant, double Amount, bool CardPresent);

    [Fact]
    public async Task Half_by_backfill_and_half_by_stream_equal_all_by_stream()
    {
        var txns = Generate(400, seed: 7);
        var cut = Start.AddHours(10);
        var before = txns.Count(t => t.Micros < Micros.From(cut));
        Assert.InRange(before, 100, 300);

        // The batch file holds ALL events, after the cut-over too: backfill must leave those to the stream.
        WriteTxns("data/txns/part-1.parquet", txns.Take(200));
        WriteTxns("data/txns/part-2.parquet", txns.Skip(200));

        await using var all = await OpenAsync();
        await PushAsync(all, txns, expectSkipped: 0);

        await using var lambda = await OpenAsync();
        var result = await new DuckDbBackfill(batchSize: 37).RunAsync(lambda, "stats", cut);
        Assert.Equal(before, result.RowsRead);
        Assert.Equal(before, result.EventsApplied);
        Assert.Equal(0, result.Rejected);
        Assert.Equal(txns.Where(t => t.Micros < Micros.From(cut)).Select(t => t.Account).Distinct().Count(), result.Entities);
        Assert.Equal(Micros.From(cut), await lambda.Engine.CutOverAsync("stats"));

        // Every event through the stream path: the ones before the cut-over are skipped, not applied twice.
        await PushAsync(lambda, txns, expectSkipped: before);

        var expected = await ReadAsync(all);
        var actual = await ReadAsync(lambda);
        var present = 0;
        for (var f = 0; f < expected.FeatureNames.Count; f++)
        {
            Assert.Equal(expected.FeatureNames[f], actual.FeatureNames[f]);
            for (var r = 0; r < Accounts.Length; r++)
            {
                var (e, a) = (expected.Columns[f].Values[r], actual.Columns[f].Values[r]);
                AssertSame(e, a, $"{expected.FeatureNames[f]} of {Accounts[r]}");
                present += e.IsNull ? 0 : 1;
            }
        }

        // Not vacuous: the windows hold events of both layers.
        Assert.True(present > Accounts.Length * 8, $"only {present} values present");
        var count24 = expected.FeatureNames.ToList().IndexOf("events_24h");
        Assert.Equal(txns.Count(t => t.Account == "a1"), actual.Columns[count24].Values[0].AsInt64());
    }

    [Fact]
    public async Task The_stream_processor_skips_events_before_the_cut_over_and_counts_them()
    {
        var txns = Generate(60, seed: 3);
        var cut = Start.AddHours(10);
        var before = txns.Count(t => t.Micros < Micros.From(cut));
        WriteTxns("data/txns/all.parquet", txns);

        await using var all = await OpenAsync();
        await PushAsync(all, txns, expectSkipped: 0);
        await using var lambda = await OpenAsync();
        await new DuckDbBackfill().RunAsync(lambda, "stats", cut);

        var sink = new RecordingSink();
        var processor = new StreamProcessor(lambda, "txns", sink);
        var events = txns.Select((t, i) => new SourceEvent("0", i, null, System.Text.Encoding.UTF8.GetBytes(
            $$"""{"ts":"{{Micros.ToRfc3339(t.Micros)}}","account_id":"{{t.Account}}","merchant_id":"{{t.Merchant}}","amount":{{t.Amount.ToString("R", CultureInfo.InvariantCulture)}},"card_present":{{(t.CardPresent ? "true" : "false")}}}"""), null)).ToList();
        var result = await processor.ProcessAsync(events);
        Assert.Empty(sink.Letters);
        Assert.Equal(before, result.EventsSkippedBeforeCutOver);
        Assert.Equal(txns.Count - before, result.Aggregated);

        var (expected, actual) = (await ReadAsync(all), await ReadAsync(lambda));
        for (var f = 0; f < expected.FeatureNames.Count; f++)
        {
            for (var r = 0; r < Accounts.Length; r++)
            {
                AssertSame(expected.Columns[f].Values[r], actual.Columns[f].Values[r], $"{expected.FeatureNames[f]} of {Accounts[r]}");
            }
        }
    }

    [Fact]
    public async Task A_second_backfill_is_refused_unless_replace_and_replace_does_not_double_count()
    {
        var txns = Generate(120, seed: 11);
        WriteTxns("data/txns/all.parquet", txns);
        await using var store = await OpenAsync();
        var first = await new DuckDbBackfill().RunAsync(store, "stats", Start.AddHours(5));

        var again = await Assert.ThrowsAsync<RequestException>(() => new DuckDbBackfill().RunAsync(store, "stats", Start.AddHours(8)));
        Assert.Equal("already_backfilled", again.Code);
        Assert.Contains("'stats'", again.Message, StringComparison.Ordinal);

        var replaced = await new DuckDbBackfill().RunAsync(store, "stats", Start.AddHours(20), replace: true);
        Assert.True(replaced.RowsRead > first.RowsRead);
        var read = await ReadAsync(store);
        var count24 = read.FeatureNames.ToList().IndexOf("events_24h");
        Assert.Equal(txns.Count(t => t.Account == "a2" && t.Micros < Micros.From(Start.AddHours(20))), read.Columns[count24].Values[1].AsInt64());

        // A replace with a cut-over before events the stream applied would lose them.
        await PushAsync(store, [new Txn(Micros.From(Start.AddHours(20.5)), "a1", "m1", 3, true)], expectSkipped: 0);
        var early = await Assert.ThrowsAsync<RequestException>(() => new DuckDbBackfill().RunAsync(store, "stats", Start.AddHours(20.2), replace: true));
        Assert.Equal("cut_over_too_early", early.Code);
    }

    [Fact]
    public async Task Bad_rows_are_dead_letters_with_the_reason()
    {
        PlainDuckDb.WriteParquet(_repo.File("data/txns/bad.parquet"), $"""
            SELECT * FROM (VALUES
              (make_timestamp({Micros.From(Start.AddHours(1))}), 'a1', 'm1', 12.5::DOUBLE, true),
              (make_timestamp({Micros.From(Start.AddHours(2))}), NULL, 'm1', 1::DOUBLE, true),
              (NULL, 'a2', 'm2', 2::DOUBLE, false)
            ) AS t(ts, account_id, merchant_id, amount, card_present)
            """);
        var sink = new RecordingSink();
        await using var store = await OpenAsync(sink);
        var result = await new DuckDbBackfill().RunAsync(store, "stats", Start.AddHours(4));
        Assert.Equal(3, result.RowsRead);
        Assert.Equal(1, result.EventsApplied);
        Assert.Equal(2, result.Rejected);
        Assert.Equal(["missing_field", "missing_field"], sink.Letters.Select(l => l.Code));
        Assert.All(sink.Letters, l => Assert.Equal("stats", l.View));
        Assert.Contains(sink.Letters, l => l.Reason.Contains("account_id", StringComparison.Ordinal));
        Assert.Contains(sink.Letters, l => l.Reason.Contains("'ts'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_view_without_a_batch_source_and_a_future_cut_over_are_clear_errors()
    {
        await using var store = await OpenAsync();
        var none = await Assert.ThrowsAsync<RequestException>(() => new DuckDbBackfill().RunAsync(store, "live_stats", Start));
        Assert.Equal("no_batch_source", none.Code);
        Assert.Contains("'live_stats'", none.Message, StringComparison.Ordinal);

        var future = await Assert.ThrowsAsync<RequestException>(() => new DuckDbBackfill().RunAsync(store, "stats", Now.AddHours(1)));
        Assert.Equal("cut_over_in_future", future.Code);

        var unknown = await Assert.ThrowsAsync<RequestException>(() => new DuckDbBackfill().RunAsync(store, "nope", Start));
        Assert.Equal("unknown_view", unknown.Code);
    }

    private static List<Txn> Generate(int count, int seed)
    {
        var random = new Random(seed);
        var start = Micros.From(Start);
        var used = new HashSet<long>();
        var txns = new List<Txn>();
        while (txns.Count < count)
        {
            // Distinct times, so first/last do not depend on arrival order; within 20h so every window is retained at Now.
            var t = start + (long)(random.NextDouble() * 20 * 3600e6);
            if (used.Add(t))
            {
                txns.Add(new Txn(t, Accounts[random.Next(Accounts.Length)], $"m{random.Next(6)}", Math.Round(random.NextDouble() * 500, 2), random.Next(2) == 0));
            }
        }

        return txns;
    }

    private async Task<FeatureStore> OpenAsync(IDeadLetterSink? sink = null)
    {
        var config = RepoLoader.Load(_repo.Path).GetValueOrThrow().Config;
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(_repo.Registry.State, 0);
        return await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), config, _repo.Path, new FeatureStoreOptions { Clock = new FixedClock(Now), DeadLetters = sink });
    }

    /// <summary>Pushes events in shuffled chunks, as a stream delivers them out of order.</summary>
    private static async Task PushAsync(FeatureStore store, List<Txn> txns, int expectSkipped)
    {
        var shuffled = txns.OrderBy(t => (t.Micros * 2654435761L) % 1000003).ToList();
        var skipped = 0;
        var aggregated = 0;
        foreach (var chunk in shuffled.Chunk(50))
        {
            var result = await store.PushAsync("txns", Table(chunk), PushTarget.Online);
            Assert.Equal(0, result.EventsRejected);
            skipped += result.EventsSkippedBeforeCutOver;
            aggregated += result.EventsAggregated;
        }

        Assert.Equal(expectSkipped, skipped);
        Assert.Equal(txns.Count - expectSkipped, aggregated);
    }

    private static ColumnTable Table(IReadOnlyList<Txn> events) => new(new Dictionary<string, FeatureValue[]>
    {
        ["ts"] = [.. events.Select(e => FeatureValue.FromTimestampMicros(e.Micros))],
        ["account_id"] = [.. events.Select(e => FeatureValue.FromString(e.Account))],
        ["merchant_id"] = [.. events.Select(e => FeatureValue.FromString(e.Merchant))],
        ["amount"] = [.. events.Select(e => FeatureValue.FromFloat64(e.Amount))],
        ["card_present"] = [.. events.Select(e => FeatureValue.FromBool(e.CardPresent))],
    });

    private static async Task<OnlineResponse> ReadAsync(FeatureStore store) => await store.GetOnlineFeaturesAsync(new OnlineRequest
    {
        Features = ["stats"],
        Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [.. Accounts.Select(FeatureValue.FromString)] },
    });

    private static void AssertSame(FeatureValue expected, FeatureValue actual, string what)
    {
        if (expected.Kind == ValueKind.Float64 && actual.Kind == ValueKind.Float64)
        {
            var (e, a) = (expected.AsFloat64(), actual.AsFloat64());
            Assert.True(Math.Abs(e - a) <= 1e-12 * Math.Max(1, Math.Abs(e)), $"{what}: expected {e:R}, got {a:R}");
            return;
        }

        Assert.True(expected.Equals(actual), $"{what}: expected {expected}, got {actual}");
    }

    private void WriteTxns(string relative, IEnumerable<Txn> txns) =>
        PlainDuckDb.WriteParquet(_repo.File(relative), "SELECT * FROM (VALUES " + string.Join(", ", txns.Select(t =>
            $"(make_timestamp({t.Micros}), '{t.Account}', '{t.Merchant}', {t.Amount.ToString("R", CultureInfo.InvariantCulture)}::DOUBLE, {(t.CardPresent ? "true" : "false")})")) +
            ") AS t(ts, account_id, merchant_id, amount, card_present)");

    private sealed class RecordingSink : IDeadLetterSink
    {
        public List<RejectedEvent> Letters { get; } = [];

        public IReadOnlyList<OnlinePut> Prepare(IReadOnlyList<RejectedEvent> letters)
        {
            Letters.AddRange(letters);
            return [];
        }
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
