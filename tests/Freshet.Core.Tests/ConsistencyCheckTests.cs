using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// DESIGN §3 consistency, as the product checks it: random events replayed online and computed offline agree on
/// every function at every time, and the check does report a difference when there is one.
/// </summary>
public sealed class ConsistencyCheckTests
{
    private static readonly DateTimeOffset T0 = new(2024, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly Field[] TxSchema =
    [
        new("account_id", FeatureType.Of(ScalarKind.String)),
        new("amount", FeatureType.Of(ScalarKind.Float64)),
        new("qty", FeatureType.Of(ScalarKind.Int64)),
        new("merchant", FeatureType.Of(ScalarKind.String)),
        new("online", FeatureType.Of(ScalarKind.Bool)),
        new("ts", FeatureType.Of(ScalarKind.Timestamp)),
    ];

    private static Model.Aggregation Agg(AggregationFunction f, string? column, string window) => new(f, column, Durations.Parse(window));

    /// <summary>Every function, windows at three default hops and one explicit hop, and filtered aggregations.</summary>
    private static readonly Model.Aggregation[] Everything =
    [
        Agg(AggregationFunction.Count, null, "1h"),
        Agg(AggregationFunction.Count, "amount", "6h"),
        Agg(AggregationFunction.Sum, "amount", "1h"),
        Agg(AggregationFunction.Sum, "amount", "2d"),
        Agg(AggregationFunction.Sum, "qty", "6h"),
        Agg(AggregationFunction.Mean, "amount", "6h"),
        Agg(AggregationFunction.Min, "amount", "2h"),
        Agg(AggregationFunction.Max, "qty", "2d"),
        Agg(AggregationFunction.First, "merchant", "6h"),
        Agg(AggregationFunction.Last, "amount", "1h"),
        Agg(AggregationFunction.Last, "ts", "2d"),
        Agg(AggregationFunction.LastN, "merchant", "1d") with { K = 3 },
        Agg(AggregationFunction.Stddev, "amount", "6h"),
        Agg(AggregationFunction.Variance, "amount", "2d"),
        Agg(AggregationFunction.CountDistinct, "merchant", "1d"),
        Agg(AggregationFunction.ApproxPercentile, "amount", "1d") with { Percentile = 0.9 },
        Agg(AggregationFunction.Sum, "amount", "3h") with { Hop = TimeSpan.FromMinutes(15), Name = "amount_sum_3h_15m" },
        Agg(AggregationFunction.Sum, "amount", "6h") with { Filter = "online == true", Name = "online_sum_6h" },
        Agg(AggregationFunction.Count, null, "1d") with { Filter = "amount > 250", Name = "big_count_1d" },
    ];

    private static async Task<(RegistryState State, RepoConfig Config)> RepoAsync(params Model.Aggregation[] aggregations)
    {
        var repo = new RepoBuilder("consistency")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx") { TimestampField = "ts", Schema = TxSchema })
            .Add(new AggregationView("tx_stats", ["account"], "tx", aggregations))
            .Build()
            .GetValueOrThrow();
        var state = RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", T0);
        await Task.CompletedTask;
        return (state, repo.Config);
    }

    /// <summary>Random transactions over three days: distinct times (first/last ties would depend on arrival order), some null amounts.</summary>
    private static ColumnTable RandomEvents(int seed, int count, out List<DateTimeOffset> times)
    {
        var random = new Random(seed);
        var accounts = Enumerable.Range(0, 2 + random.Next(6)).Select(i => $"acct-{i}").ToArray();
        var used = new HashSet<long>();
        var micros = new List<long>();
        while (micros.Count < count)
        {
            var t = Micros.From(T0) + (long)(random.NextDouble() * 3 * 86_400e6);
            if (used.Add(t))
            {
                micros.Add(t);
            }
        }

        // Shuffled: the check orders the events itself.
        var rows = micros.Select(t => (t, random.Next())).OrderBy(x => x.Item2).Select(x => x.t).ToArray();
        var table = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["account_id"] = [.. rows.Select(_ => FeatureValue.FromString(accounts[random.Next(accounts.Length)]))],
            ["amount"] = [.. rows.Select(_ => random.Next(20) == 0 ? FeatureValue.Null : FeatureValue.FromFloat64(Math.Round(random.NextDouble() * 500, 2) - 20))],
            ["qty"] = [.. rows.Select(_ => FeatureValue.FromInt64(random.Next(-5, 50)))],
            ["merchant"] = [.. rows.Select(_ => FeatureValue.FromString($"m{random.Next(12)}"))],
            ["online"] = [.. rows.Select(_ => FeatureValue.FromBool(random.Next(2) == 0))],
            ["ts"] = [.. rows.Select(FeatureValue.FromTimestampMicros)],
        });

        // Random moments, moments on an event's own time (the strict bound), before the first event and after the last.
        times = [.. Enumerable.Range(0, 30).Select(_ => T0.AddSeconds(random.NextDouble() * 4 * 86_400))];
        times.AddRange(micros.Take(8).Select(Micros.ToDateTimeOffset));
        times.Add(T0.AddHours(-1));
        times.Add(T0.AddDays(5));
        return table;
    }

    [Theory]
    [InlineData(1, 400)]
    [InlineData(2, 900)]
    [InlineData(3, 60)]
    [InlineData(20240301, 1500)]
    public async Task Every_function_online_equals_offline_over_random_events(int seed, int count)
    {
        var (state, config) = await RepoAsync(Everything);
        var events = RandomEvents(seed, count, out var times);

        // Small batches: the replay applies many batches between reads, as a stream would.
        var report = await ConsistencyCheck.RunAsync(state, config, ".", "tx_stats", events, times, new ConsistencyOptions { BatchSize = 37 });

        Assert.True(report.Mismatches == 0, string.Join("\n", report.Examples.Select(e => $"{e.Entity} at {e.At:O} {e.Feature}: online {e.Online}, offline {e.Offline}")));
        Assert.Equal(0, report.OnlineRejected);
        Assert.Equal(0, report.BadRows);
        Assert.Equal(Everything.Length, report.Features.Count);
        Assert.Equal((long)report.Entities * report.Times * Everything.Length, report.Compared);

        // Not vacuous: every feature had values present on both sides, and most values overall were present.
        Assert.All(report.Features, f => Assert.True(f.NonNull > 0, $"{f.Feature}: no value present"));
        Assert.True(report.Features.Sum(f => f.NonNull) > report.Compared / 3, $"only {report.Features.Sum(f => f.NonNull)} of {report.Compared} values present");
    }

    [Fact]
    public async Task An_altered_online_value_is_reported_as_a_mismatch_with_its_difference()
    {
        var (state, config) = await RepoAsync(Everything);
        var events = RandomEvents(7, 300, out var times);
        var report = await ConsistencyCheck.RunAsync(state, config, ".", "tx_stats", events, times, new ConsistencyOptions
        {
            MaxExamples = 3,
            AlterOnline = (feature, v) => feature switch
            {
                "amount_sum_1h" when v.Kind == ValueKind.Float64 => FeatureValue.FromFloat64(v.AsFloat64() * (1 + 1e-9)),
                "count_1h" when v.Kind == ValueKind.Int64 && v.AsInt64() > 2 => FeatureValue.FromInt64(v.AsInt64() + 1),

                // Within the tolerance of float sums: not a mismatch.
                "amount_sum_2d" when v.Kind == ValueKind.Float64 => FeatureValue.FromFloat64(v.AsFloat64() * (1 + 1e-15)),
                _ => v,
            },
        });

        var byName = report.Features.ToDictionary(f => f.Feature);
        Assert.True(byName["amount_sum_1h"].Mismatches > 0);
        Assert.InRange(byName["amount_sum_1h"].MaxRelativeDifference, 0.9e-9, 1.1e-9);
        Assert.True(byName["count_1h"].Mismatches > 0);
        Assert.Equal(1, byName["count_1h"].MaxAbsoluteDifference);
        Assert.Equal(0, byName["amount_sum_2d"].Mismatches);
        Assert.Equal(byName["amount_sum_1h"].Mismatches + byName["count_1h"].Mismatches, report.Mismatches);
        Assert.Equal(0, report.Features.Where(f => f.Feature is not "amount_sum_1h" and not "count_1h").Sum(f => f.Mismatches));
        Assert.Equal(3, report.Examples.Count);
        Assert.All(report.Examples, e => Assert.NotEqual(e.Online, e.Offline));
    }

    [Fact]
    public async Task A_null_on_one_side_only_is_a_mismatch()
    {
        var (state, config) = await RepoAsync(Agg(AggregationFunction.Max, "amount", "1h"));
        var events = RandomEvents(11, 200, out var times);
        var report = await ConsistencyCheck.RunAsync(state, config, ".", "tx_stats", events, times, new ConsistencyOptions
        {
            AlterOnline = (_, v) => v.IsNull ? FeatureValue.FromFloat64(0) : v,
        });

        Assert.True(report.Mismatches > 0);
        Assert.All(report.Examples, e => Assert.True(e.Offline.IsNull));
    }

    [Fact]
    public async Task Unknown_view_and_missing_times_are_request_errors()
    {
        var (state, config) = await RepoAsync(Everything);
        var events = RandomEvents(1, 10, out var times);
        var unknown = await Assert.ThrowsAsync<RequestException>(() => ConsistencyCheck.RunAsync(state, config, ".", "nope", events, times));
        Assert.Equal("unknown_view", unknown.Code);
        Assert.Contains("'nope'", unknown.Message, StringComparison.Ordinal);
        var none = await Assert.ThrowsAsync<RequestException>(() => ConsistencyCheck.RunAsync(state, config, ".", "tx_stats", events, []));
        Assert.Equal("missing_times", none.Code);
    }
}
