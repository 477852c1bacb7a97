using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// The consistency check of plain feature views: rows written through the online write path with the clock at each
/// time, against Feast's point-in-time rule computed in memory; ttl, created tie-breaks and out-of-order files.
/// </summary>
public sealed class PlainConsistencyCheckTests
{
    private static readonly DateTimeOffset T0 = new(2024, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private static (RegistryState State, RepoConfig Config) Repo(TimeSpan ttl)
    {
        var repo = new RepoBuilder("plain")
            .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new FileSource("stats", "stats.parquet") { TimestampField = "ts", CreatedTimestampField = "created" })
            .Add(new FeatureView("driver_stats", ["driver"], "stats",
            [
                new Field("rate", FeatureType.Of(ScalarKind.Float32)),
                new Field("trips", FeatureType.Of(ScalarKind.Int32)),
                new Field("city", FeatureType.Of(ScalarKind.String)),
            ]) { Ttl = ttl })
            .Build()
            .GetValueOrThrow();
        var state = RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", T0);
        return (state, repo.Config);
    }

    /// <summary>
    /// Rows on a coarse grid (so event times repeat and the created tie-break decides), shuffled, some null created
    /// times and null values, and times before, on, between and after the rows.
    /// </summary>
    private static ColumnTable RandomRows(int seed, int count, out List<DateTimeOffset> times)
    {
        Assert.InRange(count, 1, 1900);
        var random = new Random(seed);
        var drivers = 2 + random.Next(5);
        var used = new HashSet<(long, long, long)>();
        var rows = new List<(long Driver, long Ts, long? Created)>();
        while (rows.Count < count)
        {
            var driver = 1000L + random.Next(drivers);
            // 2 drivers x 192 slots x 5 created choices hold more than the largest count, so the loop ends.
            var ts = Micros.From(T0) + (random.Next(192) * 30 * 60_000_000L);
            long? created = random.Next(8) == 0 ? null : ts + (random.Next(4) * 1_000_000L);

            // A full (event, created) tie with different values has no defined winner offline (Feast's rule breaks ties by created only).
            if (used.Add((driver, ts, created ?? long.MinValue)))
            {
                rows.Add((driver, ts, created));
            }
        }

        var table = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [.. rows.Select(r => FeatureValue.FromInt64(r.Driver))],
            ["ts"] = [.. rows.Select(r => FeatureValue.FromTimestampMicros(r.Ts))],
            ["created"] = [.. rows.Select(r => r.Created is { } c ? FeatureValue.FromTimestampMicros(c) : FeatureValue.Null)],
            ["rate"] = [.. rows.Select(_ => random.Next(10) == 0 ? FeatureValue.Null : FeatureValue.FromFloat64(random.NextDouble()))],
            ["trips"] = [.. rows.Select(_ => FeatureValue.FromInt64(random.Next(100)))],
            ["city"] = [.. rows.Select(_ => FeatureValue.FromString($"c{random.Next(9)}"))],
        });

        times = [.. Enumerable.Range(0, 25).Select(_ => T0.AddMinutes(random.Next(-60, 97 * 60 + 60)))];
        times.AddRange(rows.Take(6).Select(r => Micros.ToDateTimeOffset(r.Ts)));
        times.Add(T0.AddDays(-1));
        times.Add(T0.AddDays(4));
        return table;
    }

    [Theory]
    [InlineData(1, 300, 0)]
    [InlineData(2, 800, 3)]
    [InlineData(3, 40, 1)]
    [InlineData(2024, 1200, 0)]
    public async Task Plain_view_online_equals_feast_rule_offline(int seed, int count, int ttlHours)
    {
        var (state, config) = Repo(TimeSpan.FromHours(ttlHours));
        var events = RandomRows(seed, count, out var times);

        var report = await ConsistencyCheck.RunAsync(state, config, ".", "driver_stats", events, times, new ConsistencyOptions { BatchSize = 29 });

        Assert.True(report.Mismatches == 0, string.Join("\n", report.Examples.Select(e => $"{e.Entity} at {e.At:O} {e.Feature}: online {e.Online}, offline {e.Offline}")));
        Assert.Equal(0, report.BadRows);
        Assert.Equal(3, report.Features.Count);
        Assert.All(report.Features, f => Assert.Equal("latest", f.Function));
        Assert.Equal((long)report.Entities * report.Times * 3, report.Compared);
        Assert.All(report.Features, f => Assert.True(f.NonNull > 0, $"{f.Feature}: no value present"));

        // With a ttl some values must have expired (else the ttl case is vacuous); without one, more are present.
        var present = report.Features.Single(f => f.Feature == "trips").NonNull;
        Assert.True(present < (long)report.Entities * report.Times, $"{present} present: nothing was missing or expired");
    }

    [Fact]
    public async Task Ttl_is_measured_against_the_time_read()
    {
        var (state, config) = Repo(TimeSpan.FromHours(1));
        var events = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(1)],
            ["ts"] = [FeatureValue.FromTimestamp(T0)],
            ["created"] = [FeatureValue.Null],
            ["rate"] = [FeatureValue.FromFloat64(0.5)],
            ["trips"] = [FeatureValue.FromInt64(3)],
            ["city"] = [FeatureValue.FromString("x")],
        });

        // Before the row, on it, exactly ttl old (still served), a microsecond older (expired).
        DateTimeOffset[] times = [T0.AddSeconds(-1), T0, T0.AddHours(1), T0.AddHours(1).AddTicks(10)];
        var report = await ConsistencyCheck.RunAsync(state, config, ".", "driver_stats", events, times, new ConsistencyOptions
        {
            // Nulls on the online side where a value is served: any served value becomes a mismatch, so the count is the served count.
            AlterOnline = (_, v) => v.IsNull ? v : FeatureValue.FromString("served"),
        });

        Assert.Equal(4 * 3, report.Compared);
        Assert.Equal(2 * 3, report.Mismatches);
        Assert.Equal([T0, T0.AddHours(1)], report.Examples.Select(e => e.At).Distinct());
    }

    [Fact]
    public async Task An_altered_online_value_of_a_plain_view_is_a_mismatch()
    {
        var (state, config) = Repo(TimeSpan.Zero);
        var events = RandomRows(5, 200, out var times);
        var report = await ConsistencyCheck.RunAsync(state, config, ".", "driver_stats", events, times, new ConsistencyOptions
        {
            AlterOnline = (feature, v) => feature == "trips" && v.Kind == ValueKind.Int32 && v.AsInt32() == 7 ? FeatureValue.FromInt32(8) : v,
        });

        var byName = report.Features.ToDictionary(f => f.Feature);
        Assert.True(byName["trips"].Mismatches > 0);
        Assert.Equal(1, byName["trips"].MaxAbsoluteDifference);
        Assert.Equal(0, byName["rate"].Mismatches + byName["city"].Mismatches);
        Assert.All(report.Examples, e => Assert.Equal(FeatureValue.FromInt32(7), e.Offline));
    }

    [Fact]
    public async Task Rows_the_write_path_refuses_are_counted_and_skipped()
    {
        var (state, config) = Repo(TimeSpan.Zero);
        var events = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(1), FeatureValue.Null, FeatureValue.FromInt64(1), FeatureValue.FromInt64(2)],
            ["ts"] = [FeatureValue.FromTimestamp(T0), FeatureValue.FromTimestamp(T0), FeatureValue.Null, FeatureValue.FromTimestamp(T0)],
            ["created"] = [FeatureValue.Null, FeatureValue.Null, FeatureValue.Null, FeatureValue.Null],
            ["rate"] = [FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.5)],
            ["trips"] = [FeatureValue.FromInt64(1), FeatureValue.FromInt64(1), FeatureValue.FromInt64(1), FeatureValue.FromFloat64(2.5)],
            ["city"] = [FeatureValue.FromString("a"), FeatureValue.FromString("a"), FeatureValue.FromString("a"), FeatureValue.FromString("a")],
        });

        var report = await ConsistencyCheck.RunAsync(state, config, ".", "driver_stats", events, [T0.AddHours(1)]);
        Assert.Equal(3, report.BadRows);
        Assert.Equal(1, report.Entities);
        Assert.Equal(0, report.Mismatches);
    }

    [Fact]
    public async Task An_events_file_without_a_feature_column_is_a_request_error()
    {
        var (state, config) = Repo(TimeSpan.Zero);
        var events = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(1)],
            ["ts"] = [FeatureValue.FromTimestamp(T0)],
        });

        var e = await Assert.ThrowsAsync<RequestException>(() => ConsistencyCheck.RunAsync(state, config, ".", "driver_stats", events, [T0]));
        Assert.Equal("missing_column", e.Code);
        Assert.Contains("'rate'", e.Message, StringComparison.Ordinal);
    }
}
