using System.Numerics;
using CsCheck;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Values;
using static Freshet.Core.Tests.AggregateTestKit;

namespace Freshet.Core.Tests;

/// <summary>
/// For every function: events split at random into tiles, tiles merged from bytes and as objects in random
/// orders, against a brute-force reference over all events.
/// </summary>
public sealed class AggregatePropertyTests
{
    private static readonly FeatureType Int64 = FeatureType.Of(ScalarKind.Int64);
    private static readonly FeatureType Int32 = FeatureType.Of(ScalarKind.Int32);
    private static readonly FeatureType Float64 = FeatureType.Of(ScalarKind.Float64);
    private static readonly FeatureType Text = FeatureType.Of(ScalarKind.String);
    private static readonly FeatureType Timestamp = FeatureType.Of(ScalarKind.Timestamp);

    private static readonly Gen<FeatureValue> SmallInt = Gen.Int[-20, 20].Select(i => FeatureValue.FromInt64(i));
    private static readonly Gen<FeatureValue> SmallInt32 = Gen.Int[-20, 20].Select(FeatureValue.FromInt32);
    private static readonly Gen<FeatureValue> BigInt = Gen.Long[-1_000_000_000_000, 1_000_000_000_000].Select(FeatureValue.FromInt64);
    private static readonly Gen<FeatureValue> Eighths = Gen.Int[-50, 50].Select(k => FeatureValue.FromFloat64(k / 8.0));
    private static readonly Gen<FeatureValue> Instants = Gen.Long[1_700_000_000_000_000, 1_700_000_000_100_000].Select(FeatureValue.FromTimestampMicros);

    private static void Property(Gen<AggregateEvent[]> events, Action<AggregateEvent[], int> check) =>
        Gen.Select(events, Gen.Int).Sample(check, seed: Seed, iter: Iterations, threads: 1);

    private static AggregateEvent[] Present(AggregateEvent[] events) => events.Where(e => !e.Value.IsNull).ToArray();

    [Fact]
    public void Aggregate_count_of_tiles_equals_count_of_non_null_events() =>
        Property(Events(SmallInt), (events, seed) =>
            AllEqual(FeatureValue.FromInt64(Present(events).Length), MergeTiles(Of(AggregationFunction.Count), null, events, seed)));

    [Fact]
    public void Aggregate_int_sum_of_tiles_is_exact() =>
        Property(Events(BigInt), (events, seed) =>
        {
            var present = Present(events);
            var expected = present.Length == 0 ? FeatureValue.Null : FeatureValue.FromInt64(present.Sum(e => e.Value.AsInt64()));
            AllEqual(expected, MergeTiles(Of(AggregationFunction.Sum), Int64, events, seed));
        });

    [Fact]
    public void Aggregate_int32_sum_of_tiles_is_an_exact_int64() =>
        Property(Events(SmallInt32), (events, seed) =>
        {
            var present = Present(events);
            var expected = present.Length == 0 ? FeatureValue.Null : FeatureValue.FromInt64(present.Sum(e => (long)e.Value.AsInt32()));
            AllEqual(expected, MergeTiles(Of(AggregationFunction.Sum), Int32, events, seed));
        });

    [Fact]
    public void Aggregate_float_sum_of_tiles_is_within_1e12_of_the_exact_sum() =>
        Property(Events(ExactDouble), (events, seed) =>
        {
            var present = Present(events);
            double? expected = present.Length == 0 ? null : (double)present.Aggregate(BigInteger.Zero, (s, e) => s + Scaled(e.Value.AsFloat64())) / (1 << 20);
            AllClose(expected, MergeTiles(Of(AggregationFunction.Sum), Float64, events, seed), 1e-12);
        });

    [Fact]
    public void Aggregate_mean_of_tiles_is_within_1e12_of_the_exact_mean() =>
        Property(Events(ExactDouble), (events, seed) =>
        {
            var present = Present(events);
            double? expected = present.Length == 0 ? null
                : (double)present.Aggregate(BigInteger.Zero, (s, e) => s + Scaled(e.Value.AsFloat64())) / (1 << 20) / present.Length;
            AllClose(expected, MergeTiles(Of(AggregationFunction.Mean), Float64, events, seed), 1e-12);
        });

    /// <summary>Population variance from exact integer moments: (n·Σk² − (Σk)²) / (n² · 2^40).</summary>
    private static double? ExactVariance(AggregateEvent[] events)
    {
        var present = Present(events);
        if (present.Length == 0)
        {
            return null;
        }

        BigInteger sum = 0, squares = 0;
        foreach (var e in present)
        {
            var k = Scaled(e.Value.AsFloat64());
            sum += k;
            squares += k * k;
        }

        var n = present.Length;
        return (double)((n * squares) - (sum * sum)) / ((double)n * n) / Math.Pow(2, 40);
    }

    [Fact]
    public void Aggregate_variance_of_tiles_is_the_population_variance_within_1e12() =>
        Property(Events(ExactDouble), (events, seed) =>
            AllClose(ExactVariance(events), MergeTiles(Of(AggregationFunction.Variance), Float64, events, seed), 1e-12));

    [Fact]
    public void Aggregate_stddev_of_tiles_is_the_population_stddev_within_1e12() =>
        Property(Events(ExactDouble), (events, seed) =>
        {
            var v = ExactVariance(events);
            AllClose(v is { } x ? Math.Sqrt(x) : null, MergeTiles(Of(AggregationFunction.Stddev), Float64, events, seed), 1e-12);
        });

    private static FeatureValue Extreme(AggregateEvent[] events, Comparison<FeatureValue> order, bool max)
    {
        var present = Present(events);
        if (present.Length == 0)
        {
            return FeatureValue.Null;
        }

        var best = present[0].Value;
        foreach (var e in present)
        {
            var c = order(e.Value, best);
            if (max ? c > 0 : c < 0)
            {
                best = e.Value;
            }
        }

        return best;
    }

    private static int Numeric(FeatureValue a, FeatureValue b) => a.ToDouble().CompareTo(b.ToDouble());

    private static int Strings(FeatureValue a, FeatureValue b) => CodePointCompare(a.AsString(), b.AsString());

    [Theory]
    [InlineData(AggregationFunction.Min)]
    [InlineData(AggregationFunction.Max)]
    public void Aggregate_min_max_of_tiles_is_exact_for_every_input_kind(AggregationFunction function)
    {
        var max = function == AggregationFunction.Max;
        Property(Events(SmallInt), (events, seed) =>
            AllEqual(Extreme(events, Numeric, max), MergeTiles(Of(function), Int64, events, seed)));
        Property(Events(Eighths), (events, seed) =>
            AllEqual(Extreme(events, Numeric, max), MergeTiles(Of(function), Float64, events, seed)));
        Property(Events(Instants), (events, seed) =>
            AllEqual(Extreme(events, (a, b) => a.TimestampMicros.CompareTo(b.TimestampMicros), max), MergeTiles(Of(function), Timestamp, events, seed)));
        Property(Events(AggregateTestKit.Text), (events, seed) =>
            AllEqual(Extreme(events, Strings, max), MergeTiles(Of(function), Text, events, seed)));
    }

    /// <summary>The reference order of first/last/last_n: event time, then value (numeric, or code point order).</summary>
    private static Comparison<AggregateEvent> ByTimeThenValue(Comparison<FeatureValue> values) =>
        (a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : values(a.Value, b.Value);

    [Fact]
    public void Aggregate_first_and_last_of_tiles_break_time_ties_by_value()
    {
        foreach (var (gen, type, order) in new[] { (SmallInt, Int64, (Comparison<FeatureValue>)Numeric), (AggregateTestKit.Text, Text, Strings) })
        {
            Property(Events(gen), (events, seed) =>
            {
                var present = Present(events).ToList();
                present.Sort(ByTimeThenValue(order));
                AllEqual(present.Count == 0 ? FeatureValue.Null : present[0].Value, MergeTiles(Of(AggregationFunction.First), type, events, seed));
                AllEqual(present.Count == 0 ? FeatureValue.Null : present[^1].Value, MergeTiles(Of(AggregationFunction.Last), type, events, seed));
            });
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(20)]
    public void Aggregate_last_n_of_tiles_is_the_k_newest_newest_first(int k)
    {
        Property(Events(SmallInt), (events, seed) =>
        {
            var present = Present(events).ToList();
            present.Sort(ByTimeThenValue(Numeric));
            present.Reverse();
            var expected = present.Count == 0 ? FeatureValue.Null
                : FeatureValue.FromList(ValueKind.Int64List, present.Take(k).Select(e => e.Value.AsInt64()).ToArray());
            AllEqual(expected, MergeTiles(Of(AggregationFunction.LastN, k: k), Int64, events, seed));
        });
        Property(Events(AggregateTestKit.Text), (events, seed) =>
        {
            var present = Present(events).ToList();
            present.Sort(ByTimeThenValue(Strings));
            present.Reverse();
            var expected = present.Count == 0 ? FeatureValue.Null
                : FeatureValue.FromList(ValueKind.StringList, present.Take(k).Select(e => e.Value.AsString()).ToArray());
            AllEqual(expected, MergeTiles(Of(AggregationFunction.LastN, k: k), Text, events, seed));
        });
    }

    [Fact]
    public void Aggregate_count_distinct_of_tiles_below_the_threshold_is_exact()
    {
        Property(Events(Gen.Int[-300, 300].Select(i => FeatureValue.FromInt64(i)), max: 400), (events, seed) =>
            AllEqual(FeatureValue.FromInt64(Present(events).Select(e => e.Value.AsInt64()).Distinct().Count()),
                MergeTiles(Of(AggregationFunction.CountDistinct), Int64, events, seed)));
        Property(Events(AggregateTestKit.Text), (events, seed) =>
            AllEqual(FeatureValue.FromInt64(Present(events).Select(e => e.Value.AsString()).Distinct(StringComparer.Ordinal).Count()),
                MergeTiles(Of(AggregationFunction.CountDistinct), Text, events, seed)));
    }

    /// <summary>Magnitudes log-uniform over 1e-3 .. 1e9, either sign, and some exact zeros.</summary>
    private static readonly Gen<FeatureValue> Spread =
        Gen.Select(Gen.Int[0, 20], Gen.Double[-3, 9], (s, e) => FeatureValue.FromFloat64(s == 0 ? 0 : (s % 2 == 0 ? 1 : -1) * Math.Pow(10, e)));

    [Fact]
    public void Aggregate_approx_percentile_of_tiles_is_within_the_relative_accuracy_of_the_nearest_rank_value() =>
        Gen.Select(Events(Spread, max: 300), Gen.Int, Gen.OneOf(0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0)).Sample((events, seed, p) =>
        {
            var sorted = Present(events).Select(e => e.Value.AsFloat64()).Order().ToArray();
            var results = MergeTiles(Of(AggregationFunction.ApproxPercentile, p: p), Float64, events, seed);
            if (sorted.Length == 0)
            {
                AllEqual(FeatureValue.Null, results);
                return;
            }

            var rank = Math.Clamp((long)Math.Ceiling(p * sorted.Length), 1, sorted.Length);
            var truth = sorted[rank - 1];
            foreach (var r in results)
            {
                var x = r.AsFloat64();
                Assert.True(Math.Abs(x - truth) <= AggregateFunctions.PercentileRelativeAccuracy * Math.Abs(truth) * (1 + 1e-9),
                    $"p{p} of {sorted.Length}: expected {truth:R} within 1%, got {x:R}");
            }
        }, seed: Seed, iter: Iterations, threads: 1);
}
