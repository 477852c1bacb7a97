using Freshet.Aggregates;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// The engine's update path (<see cref="TileRowUpdater"/>: untouched tiles copied as bytes, only touched states
/// decoded) against the reference path that decodes the whole row into tile objects, adds the events, drops
/// expired tiles and encodes it again.
/// </summary>
public sealed class TileRowUpdaterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);

    private static readonly Field[] Schema =
    [
        new("account_id", FeatureType.Of(ScalarKind.String)),
        new("amount", FeatureType.Of(ScalarKind.Float64)),
        new("qty", FeatureType.Of(ScalarKind.Int64)),
        new("merchant", FeatureType.Of(ScalarKind.String)),
        new("ts", FeatureType.Of(ScalarKind.Timestamp)),
    ];

    /// <summary>Every function, with and without filters, over two hops (1 minute for 1h windows, 1 hour for 1d).</summary>
    private static Model.Aggregation[] AllFunctions() =>
    [
        new(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n" },
        new(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n_big", Filter = "amount > 100" },
        new(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)) { Name = "amount_sum" },
        new(AggregationFunction.Sum, "qty", TimeSpan.FromHours(1)) { Name = "qty_sum" },
        new(AggregationFunction.Mean, "amount", TimeSpan.FromDays(1)) { Name = "amount_mean" },
        new(AggregationFunction.Min, "amount", TimeSpan.FromHours(1)) { Name = "amount_min" },
        new(AggregationFunction.Max, "merchant", TimeSpan.FromDays(1)) { Name = "merchant_max" },
        new(AggregationFunction.First, "merchant", TimeSpan.FromHours(1)) { Name = "merchant_first" },
        new(AggregationFunction.Last, "amount", TimeSpan.FromDays(1)) { Name = "amount_last", Filter = "qty > 2" },
        new(AggregationFunction.LastN, "merchant", TimeSpan.FromHours(1)) { Name = "merchant_last3", K = 3 },
        new(AggregationFunction.Variance, "amount", TimeSpan.FromDays(1)) { Name = "amount_var" },
        new(AggregationFunction.Stddev, "qty", TimeSpan.FromHours(1)) { Name = "qty_std" },
        new(AggregationFunction.CountDistinct, "merchant", TimeSpan.FromDays(1)) { Name = "merchants" },
        new(AggregationFunction.ApproxPercentile, "amount", TimeSpan.FromHours(1)) { Name = "amount_p90", Percentile = 0.9 },
    ];

    private static CompiledAggregationView Compile(params Model.Aggregation[] aggregations)
    {
        var repo = new RepoBuilder("updater")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx") { TimestampField = "ts", Schema = Schema })
            .Add(new AggregationView("v", ["account"], "tx", aggregations))
            .Build()
            .GetValueOrThrow();
        return CompiledAggregationView.Compile((AggregationView)new RepoIndex(repo).View("v")!.Value.View, new RepoIndex(repo));
    }

    private static AggregationEvent Event(Random random, byte[] key, long micros, int row)
    {
        var amount = random.Next(8) == 0 ? FeatureValue.Null : FeatureValue.FromFloat64(Math.Round((random.NextDouble() * 300) - 20, 2));
        var qty = random.Next(8) == 0 ? FeatureValue.Null : FeatureValue.FromInt64(random.Next(-3, 10));
        var merchant = random.Next(8) == 0 ? FeatureValue.Null : FeatureValue.FromString($"m{random.Next(0, 40)}");
        return new AggregationEvent(key, micros, [FeatureValue.FromString("a"), amount, qty, merchant, FeatureValue.FromTimestampMicros(micros)], row);
    }

    [Fact]
    public void Updating_in_place_gives_the_tiles_of_decode_apply_encode_over_random_batches()
    {
        var view = Compile(AllFunctions());
        Assert.Equal(2, view.Resolutions.Length);
        var key = EntityKeyCodec.Encode([FeatureValue.FromString("a")]);
        var collected = 0;
        for (var seed = 0; seed < 40; seed++)
        {
            var random = new Random(seed);
            var now = Micros.From(T0);
            var reference = new byte[]?[view.Resolutions.Length];
            var updated = new byte[]?[view.Resolutions.Length];
            using var updater = new TileRowUpdater();
            for (var batch = 0; batch < 12; batch++)
            {
                // The clock moves by up to 3 hours, so 1-minute tiles expire and are collected on the way.
                now += random.Next(0, 180) * 60_000_000L;
                var events = new List<AggregationEvent>();
                var count = random.Next(0, 60);
                for (var i = 0; i < count; i++)
                {
                    // Bunched into few tiles, some up to a day and a half back (past the 1-minute retention).
                    var back = random.Next(3) == 0 ? random.Next(0, 36 * 60) * 60_000_000L : random.Next(0, 5) * 60_000_000L;
                    events.Add(Event(random, key, now - back - random.Next(0, 60_000_000), i));
                }

                var members = Enumerable.Range(0, events.Count).ToArray();
                for (var r = 0; r < view.Resolutions.Length; r++)
                {
                    var resolution = view.Resolutions[r];
                    var appliedReference = new bool[events.Count];
                    var appliedUpdated = new bool[events.Count];
                    var sameInput = new bool[events.Count];
                    var fromReference = TileRowUpdater.Rebuild(view, resolution, reference[r], events, members, now, appliedReference, out var collectedReference);
                    var fromUpdater = updater.Update(view, resolution, updated[r], events, members, now, appliedUpdated, out var collectedUpdater);
                    var referenceOfSameInput = TileRowUpdater.Rebuild(view, resolution, updated[r], events, members, now, sameInput, out _);

                    var at = $"seed {seed}, batch {batch}, resolution {r}";
                    Assert.True(appliedReference.SequenceEqual(appliedUpdated), at);
                    Assert.Equal(collectedReference, collectedUpdater);
                    AssertSameTiles(resolution, fromReference, fromUpdater, at);

                    // From the same stored row, the rows are the same bytes once re-encoded (a re-encode
                    // renormalizes untouched float sums; the update path keeps them as stored).
                    Assert.Equal(Canonical(resolution, referenceOfSameInput), Canonical(resolution, fromUpdater));
                    reference[r] = fromReference;
                    updated[r] = fromUpdater;
                    collected += collectedUpdater;
                }
            }

            Assert.Equal(0, updater.Rebuilds);
        }

        Assert.True(collected > 0, "no tile was collected: the clock does not move far enough");
    }

    [Fact]
    public void An_empty_row_and_no_events_give_the_row_of_an_entity_seen_before()
    {
        var view = Compile(AllFunctions());
        using var updater = new TileRowUpdater();
        foreach (var resolution in view.Resolutions)
        {
            var row = updater.Update(view, resolution, null, [], [], Micros.From(T0), [], out var collected);
            Assert.Equal(TileRow.Encode(new TileSet(resolution)), row);
            Assert.Equal(0, collected);
        }
    }

    [Fact]
    public void A_row_written_before_the_view_gained_a_state_keeps_its_tiles_and_takes_the_new_layout()
    {
        var before = Compile(new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n" });
        var after = Compile(
            new Model.Aggregation(AggregationFunction.Sum, "qty", TimeSpan.FromHours(1)) { Name = "qty_sum" },
            new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n" });
        var key = EntityKeyCodec.Encode([FeatureValue.FromString("a")]);
        var now = Micros.From(T0);
        var random = new Random(3);
        var first = Enumerable.Range(0, 20).Select(i => Event(random, key, now - (i * 90_000_000L), i)).ToList();
        var second = Enumerable.Range(0, 20).Select(i => Event(random, key, now - (i * 50_000_000L), i)).ToList();
        using var updater = new TileRowUpdater();

        var old = updater.Update(before, before.Resolutions[0], null, first, [.. Enumerable.Range(0, 20)], now, new bool[20], out _);
        var row = updater.Update(after, after.Resolutions[0], old, second, [.. Enumerable.Range(0, 20)], now, new bool[20], out _);
        Assert.Equal(1, updater.Rebuilds);

        var count = after.Aggregations.Single(a => a.Name == "n");
        var sum = after.Aggregations.Single(a => a.Name == "qty_sum");
        var (n, _) = AggregationEngine.Evaluate(after, count, row, now + 1, count.Resolution == 0 ? after.Resolutions[0].States[count.State].Create() : throw new InvalidOperationException());
        var (s, _) = AggregationEngine.Evaluate(after, sum, row, now + 1, after.Resolutions[0].States[sum.State].Create());
        Assert.Equal(FeatureValue.FromInt64(40), n);
        Assert.Equal(FeatureValue.FromInt64(second.Where(e => !e.Values[2].IsNull).Sum(e => e.Values[2].AsInt64())), s);
    }

    [Fact]
    public async Task Applied_counts_a_view_and_row_once_when_a_view_repeats_in_one_apply()
    {
        var repo = new RepoBuilder("updater")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx") { TimestampField = "ts", Schema = Schema })
            .Add(new AggregationView("v", ["account"], "tx", [new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n" }]))
            .Build()
            .GetValueOrThrow();
        var view = CompiledAggregationView.Compile((AggregationView)new RepoIndex(repo).View("v")!.Value.View, new RepoIndex(repo));
        var engine = new AggregationEngine(new InMemoryOnlineStore(), new FixedClock(T0));
        var key = EntityKeyCodec.Encode([FeatureValue.FromString("a")]);
        var random = new Random(5);
        var events = Enumerable.Range(0, 10).Select(i => Event(random, key, Micros.From(T0) - (i * 1_000_000L), i)).ToList();

        var once = await engine.ApplyAsync(view, events);
        var twice = await engine.ApplyAsync([(view, events), (view, events)]);
        var repeatedRows = await engine.ApplyAsync(view, [.. events, .. events]);

        Assert.Equal(10, once.Applied);
        Assert.Equal(10, twice.Applied);
        Assert.Equal(10, repeatedRows.Applied);
    }

    [Fact]
    public async Task Small_batches_of_two_views_over_many_entities_count_every_event_once()
    {
        var repo = new RepoBuilder("updater")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new Entity("merchant", [new JoinKey("merchant", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx") { TimestampField = "ts", Schema = Schema })
            .Add(new AggregationView("by_account", ["account"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n" },
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromHours(1)) { Name = "cheap_sum", Filter = "amount < 100" },
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)) { Name = "amount_sum" },
                new Model.Aggregation(AggregationFunction.CountDistinct, "merchant", TimeSpan.FromDays(1)) { Name = "merchants" },
            ]) { AllowedLateness = TimeSpan.FromMinutes(5) })
            .Add(new AggregationView("by_merchant", ["merchant"], "tx", [new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n" }]))
            .Build()
            .GetValueOrThrow();
        var index = new RepoIndex(repo);
        var accounts = CompiledAggregationView.Compile((AggregationView)index.View("by_account")!.Value.View, index);
        var merchants = CompiledAggregationView.Compile((AggregationView)index.View("by_merchant")!.Value.View, index);
        var store = new InMemoryOnlineStore();
        var engine = new AggregationEngine(store, new FixedClock(T0));
        var random = new Random(20261129);
        var rows = Enumerable.Range(0, 4000).Select(i => (Account: $"a{random.Next(0, 12)}", Merchant: $"m{random.Next(0, 30)}", Amount: Math.Round(random.NextDouble() * 500, 2), At: Micros.From(T0) - (random.Next(60, 3000) * 1_000_000L))).ToList();

        foreach (var chunk in rows.Chunk(50))
        {
            var byAccount = chunk.Select((r, i) => new AggregationEvent(EntityKeyCodec.Encode([FeatureValue.FromString(r.Account)]), r.At,
                [FeatureValue.FromString(r.Account), FeatureValue.FromFloat64(r.Amount), FeatureValue.FromInt64(1), FeatureValue.FromString(r.Merchant), FeatureValue.FromTimestampMicros(r.At)], i)).ToList();
            var byMerchant = byAccount.Select(e => e with { EntityKey = EntityKeyCodec.Encode([e.Values[3]]) }).ToList();
            var result = await engine.ApplyAsync([(accounts, byAccount), (merchants, byMerchant)]);
            Assert.Equal(2 * chunk.Length, result.Applied); // each event once per view
        }

        var count = accounts.Aggregations.Single(a => a.Name == "n");
        var cheap = accounts.Aggregations.Single(a => a.Name == "cheap_sum");
        var total = 0L;
        foreach (var account in rows.Select(r => r.Account).Distinct())
        {
            var key = EntityKeyCodec.Encode([FeatureValue.FromString(account)]);
            var stored = new byte[]?[1];
            await store.ReadAsync([new OnlineKey("by_account", CompiledAggregationView.TileKey(accounts.Resolutions[count.Resolution], key))], stored);
            var (n, _) = AggregationEngine.Evaluate(accounts, count, stored[0]!, Micros.From(T0), accounts.Resolutions[count.Resolution].States[count.State].Create());
            var (s, _) = AggregationEngine.Evaluate(accounts, cheap, stored[0]!, Micros.From(T0), accounts.Resolutions[cheap.Resolution].States[cheap.State].Create());
            var mine = rows.Where(r => r.Account == account).ToList();
            Assert.Equal(FeatureValue.FromInt64(mine.Count), n);
            Assert.Equal(mine.Where(r => r.Amount < 100).Sum(r => r.Amount), s.AsFloat64(), 6);
            total += n.AsInt64();
        }

        Assert.Equal(rows.Count, total);
    }

    private static byte[] Canonical(Resolution resolution, byte[] row) => TileRow.Encode(TileRow.Decode(row, resolution));

    private static void AssertSameTiles(Resolution resolution, byte[] expected, byte[] actual, string at)
    {
        var x = TileRow.Decode(expected, resolution).Tiles.ToList();
        var y = TileRow.Decode(actual, resolution).Tiles.ToList();
        Assert.True(x.Select(t => t.Key).SequenceEqual(y.Select(t => t.Key)), $"{at}: tile starts differ");
        for (var t = 0; t < x.Count; t++)
        {
            Assert.Equal(x[t].Value.MaxEventMicros, y[t].Value.MaxEventMicros);
            for (var s = 0; s < resolution.States.Length; s++)
            {
                var a = x[t].Value.Existing(s);
                var b = y[t].Value.Existing(s);
                Assert.Equal(a is null || a.IsEmpty, b is null || b.IsEmpty);
                if (a is { IsEmpty: false } && b is not null)
                {
                    Assert.True(a.Result().Equals(b.Result()), $"{at}, tile {x[t].Key}, state {resolution.States[s].Prototype.OutputName}: {a.Result()} vs {b.Result()}");
                }
            }
        }
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
