using Freshet.Aggregates;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// The tile engine against brute force: windows <c>floor_H(T) − W ≤ t &lt; T</c>, serving through the online
/// store, late and future events, tile collection, filters, arrival order.
/// </summary>
public sealed class AggregationEngineTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private readonly EngineClock _clock = new(T0);
    private readonly InMemoryRegistryStore _registry = new();
    private FeatureStore _store = null!;

    private static readonly Field[] TxSchema =
    [
        new("account_id", FeatureType.Of(ScalarKind.String)),
        new("amount", FeatureType.Of(ScalarKind.Float64)),
        new("merchant", FeatureType.Of(ScalarKind.String)),
        new("ts", FeatureType.Of(ScalarKind.Timestamp)),
    ];

    public async Task InitializeAsync()
    {
        var repo = new RepoBuilder("engine")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx") { TimestampField = "ts", Schema = TxSchema })
            .Add(new AggregationView("tx_stats", ["account"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)),
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)),
                new Model.Aggregation(AggregationFunction.Mean, "amount", TimeSpan.FromDays(7)),
                new Model.Aggregation(AggregationFunction.Max, "amount", TimeSpan.FromHours(1)),
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "big_count_1h", Filter = "amount > 100" },
            ]))
            .Build()
            .GetValueOrThrow();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await _registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", T0), 0);
        _store = await FeatureStore.OpenAsync(_registry, new InMemoryOnlineStore(), repo.Config, ".", new FeatureStoreOptions { Clock = _clock });
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private sealed record Tx(string Account, double Amount, string Merchant, DateTimeOffset At);

    private static ColumnTable Rows(IEnumerable<Tx> txs)
    {
        var list = txs.ToList();
        return new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["account_id"] = [.. list.Select(t => FeatureValue.FromString(t.Account))],
            ["amount"] = [.. list.Select(t => FeatureValue.FromFloat64(t.Amount))],
            ["merchant"] = [.. list.Select(t => FeatureValue.FromString(t.Merchant))],
            ["ts"] = [.. list.Select(t => FeatureValue.FromTimestamp(t.At))],
        });
    }

    private async Task<OnlineResponse> Read(params string[] accounts) =>
        await _store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = ["tx_stats:count_1h", "tx_stats:amount_sum_1d", "tx_stats:amount_mean_7d", "tx_stats:amount_max_1h", "tx_stats:big_count_1h"],
            Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [.. accounts.Select(FeatureValue.FromString)] },
        });

    /// <summary>Events with floor_H(now) − W ≤ t &lt; now (hop for W ≤ 1h is 1 min; for 1d and 7d, 1 h).</summary>
    private static List<Tx> InWindow(IEnumerable<Tx> txs, string account, TimeSpan window, TimeSpan hop, DateTimeOffset now)
    {
        var nowMicros = Micros.From(now);
        var floor = AggregationEngine.FloorTile(nowMicros, Micros.Of(hop));
        return [.. txs.Where(t => t.Account == account && Micros.From(t.At) >= floor - Micros.Of(window) && Micros.From(t.At) < nowMicros)];
    }

    [Fact]
    public async Task Pushed_events_are_served_as_windowed_aggregates_equal_to_brute_force()
    {
        var random = new Random(7);
        var txs = new List<Tx>();
        for (var i = 0; i < 600; i++)
        {
            // Up to 8 days back, out of order; amounts with cents.
            var at = T0.AddDays(-8).AddSeconds(random.Next(0, 8 * 86_400 - 1));
            txs.Add(new Tx($"a{random.Next(0, 4)}", Math.Round(random.NextDouble() * 300, 2), $"m{random.Next(0, 9)}", at));
        }

        // Retention only keeps what the longest window needs, so the clock walks forward as events arrive.
        _clock.Now = T0;
        var result = await _store.PushAsync("tx", Rows(txs), PushTarget.Online);
        Assert.True(result.EventsAggregated + result.EventsRejected == txs.Count, $"{result.EventsAggregated} + {result.EventsRejected}");

        var accounts = new[] { "a0", "a1", "a2", "a3", "nobody" };
        var r = await Read(accounts);
        Assert.Equal(["account_id", "count_1h", "amount_sum_1d", "amount_mean_7d", "amount_max_1h", "big_count_1h"], r.FeatureNames);
        for (var i = 0; i < 4; i++)
        {
            var hour = InWindow(txs, accounts[i], TimeSpan.FromHours(1), TimeSpan.FromMinutes(1), T0);
            var day = InWindow(txs, accounts[i], TimeSpan.FromDays(1), TimeSpan.FromHours(1), T0);
            var week = InWindow(txs, accounts[i], TimeSpan.FromDays(7), TimeSpan.FromHours(1), T0);
            Assert.Equal(FeatureValue.FromInt64(hour.Count), r.Columns[1].Values[i]);
            Assert.Equal(day.Sum(t => t.Amount), r.Columns[2].Values[i].AsFloat64(), 9);
            Assert.Equal(week.Average(t => t.Amount), r.Columns[3].Values[i].AsFloat64(), 9);
            if (hour.Count > 0)
            {
                Assert.Equal(hour.Max(t => t.Amount), r.Columns[4].Values[i].AsFloat64());
            }
            else
            {
                Assert.Equal(FieldStatus.NullValue, r.Columns[4].Statuses[i]);
            }

            Assert.Equal(FeatureValue.FromInt64(hour.Count(t => t.Amount > 100)), r.Columns[5].Values[i]);
        }

        Assert.Equal(FieldStatus.NotFound, r.Columns[1].Statuses[4]);
    }

    [Fact]
    public async Task The_window_starts_at_floor_of_T_minus_W_and_stops_before_T()
    {
        var view = _store.Registry.Aggregation((AggregationView)_store.Registry.Index.View("tx_stats")!.Value.View);
        var count1h = view.Aggregations.Single(a => a.Name == "count_1h");
        var at = T0.AddSeconds(30); // floor_1m(T) = T0, so the window starts at T0 - 1h
        var key = EntityKeyCodec.Encode([FeatureValue.FromString("a")]);
        AggregationEvent E(DateTimeOffset t) => new(key, Micros.From(t), [FeatureValue.FromString("a"), FeatureValue.FromFloat64(1), FeatureValue.FromString("m"), FeatureValue.FromTimestamp(t)], 0);

        var edges = new[]
        {
            E(T0.AddHours(-1)),                  // exactly floor_H(T) - W: counted
            E(T0.AddHours(-1).AddTicks(-10)),     // one microsecond before: not counted
            E(at.AddTicks(-10)),                  // one microsecond before T: counted
            E(at),                                // exactly T: not counted (strict)
            E(T0),                                // the hop edge at floor_H(T): counted
        };

        Assert.Equal(FeatureValue.FromInt64(3), AggregationEngine.ComputeAt(view, count1h, edges, Micros.From(at)));

        // One hop later the oldest tile has left the window, and the event at the old T is inside it.
        var later = Micros.From(T0.AddMinutes(1).AddSeconds(1));
        Assert.Equal(FeatureValue.FromInt64(1), AggregationEngine.ComputeAt(view, count1h, edges[..1], Micros.From(at)));
        Assert.Equal(FeatureValue.FromInt64(0), AggregationEngine.ComputeAt(view, count1h, edges[..1], later));
        Assert.Equal(FeatureValue.FromInt64(3), AggregationEngine.ComputeAt(view, count1h, edges, later));
    }

    [Fact]
    public async Task Late_and_future_events_are_rejected_with_a_reason_not_dropped()
    {
        _clock.Now = T0;
        var txs = new[]
        {
            new Tx("a", 5, "m", T0.AddMinutes(-5)),
            new Tx("a", 5, "m", T0.AddDays(-9)),      // older than 7d window + 1h hop: too late
            new Tx("a", 5, "m", T0.AddMinutes(30)),   // beyond the 5 min tolerance: too far in the future
            new Tx("a", 5, "m", T0.AddMinutes(4)),    // within the tolerance
        };

        var result = await _store.PushAsync("tx", Rows(txs), PushTarget.Online);

        Assert.Equal(2, result.EventsAggregated);
        Assert.Equal(2, result.EventsRejected);
        var view = _store.Registry.Aggregation((AggregationView)_store.Registry.Index.View("tx_stats")!.Value.View);
        var (events, _) = AggregationEngine.ToEvents(view, Rows(txs), rejectBadRows: true);
        var applied = await _store.Engine.ApplyAsync(view, events);
        Assert.Equal(["too_late", "too_far_in_future"], applied.Rejected.Select(x => x.Code));
        Assert.Equal([1, 2], applied.Rejected.Select(x => x.Row));
    }

    [Fact]
    public async Task Arrival_order_does_not_change_the_values()
    {
        var random = new Random(11);
        var txs = Enumerable.Range(0, 200).Select(i => new Tx("o", random.Next(1, 100), "m", T0.AddMinutes(-random.Next(1, 3000)))).ToList();
        _clock.Now = T0;
        foreach (var chunk in txs.Chunk(17))
        {
            await _store.PushAsync("tx", Rows(chunk), PushTarget.Online);
        }

        var inOrder = await Read("o");
        await _store.Online.DeleteViewAsync("tx_stats");
        foreach (var chunk in txs.OrderByDescending(t => t.At).Chunk(23))
        {
            await _store.PushAsync("tx", Rows(chunk), PushTarget.Online);
        }

        var reversed = await Read("o");
        for (var c = 1; c < inOrder.Columns.Length; c++)
        {
            Assert.Equal(inOrder.Columns[c].Values[0], reversed.Columns[c].Values[0]);
        }
    }

    [Fact]
    public async Task Tiles_past_retention_are_collected_on_the_next_update()
    {
        _clock.Now = T0;
        await _store.PushAsync("tx", Rows([new Tx("g", 1, "m", T0.AddMinutes(-1)), new Tx("g", 1, "m", T0.AddDays(-3))]), PushTarget.Online);
        var view = _store.Registry.Aggregation((AggregationView)_store.Registry.Index.View("tx_stats")!.Value.View);

        // Eight days later both old events are past every retention (7d + 1h); a new event triggers collection.
        _clock.Now = T0.AddDays(8);
        var key = EntityKeyCodec.Encode([FeatureValue.FromString("g")]);
        var (events, _) = AggregationEngine.ToEvents(view, Rows([new Tx("g", 2, "m", _clock.Now.AddMinutes(-1))]), rejectBadRows: true);
        var result = await _store.Engine.ApplyAsync(view, events);

        Assert.True(result.TilesCollected >= 2, $"collected {result.TilesCollected}");
        var r = await Read("g");
        Assert.Equal(FeatureValue.FromInt64(1), r.Columns[1].Values[0]);
        Assert.Equal(2.0, r.Columns[2].Values[0].AsFloat64());
        _ = key;
    }

    [Fact]
    public async Task A_row_that_cannot_be_used_refuses_the_whole_push()
    {
        var rows = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["account_id"] = [FeatureValue.FromString("a"), FeatureValue.Null],
            ["amount"] = [FeatureValue.FromFloat64(1), FeatureValue.FromFloat64(2)],
            ["ts"] = [FeatureValue.FromTimestamp(T0), FeatureValue.FromTimestamp(T0)],
        });

        var e = await Assert.ThrowsAsync<RequestException>(() => _store.PushAsync("tx", rows, PushTarget.Online).AsTask());

        Assert.Equal("missing_field", e.Code);
        Assert.Equal("df.account_id", e.Field);
        var r = await Read("a");
        Assert.Equal(FieldStatus.NotFound, r.Columns[1].Statuses[0]);
    }

    private sealed class EngineClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
