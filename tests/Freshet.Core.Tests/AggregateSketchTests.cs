using CsCheck;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Values;
using static Freshet.Core.Tests.AggregateTestKit;

namespace Freshet.Core.Tests;

/// <summary>HyperLogLog and DDSketch: stated error bounds on large sets, and order-independent merges.</summary>
public sealed class AggregateSketchTests
{
    private static readonly FeatureType Int64 = FeatureType.Of(ScalarKind.Int64);
    private static readonly FeatureType Float64 = FeatureType.Of(ScalarKind.Float64);

    /// <summary>1.04 / sqrt(2^14).</summary>
    private static readonly double StandardError = 1.04 / Math.Sqrt(1 << AggregateFunctions.CountDistinctPrecision);

    [Theory]
    [InlineData(1_500, 1)]
    [InlineData(5_000, 2)]
    [InlineData(30_000, 3)]
    [InlineData(60_000, 4)]
    [InlineData(250_000, 5)]
    public void Aggregate_count_distinct_above_the_threshold_is_within_three_standard_errors(int distinct, int seed)
    {
        var rng = new Random(seed);
        var aggregation = Of(AggregationFunction.CountDistinct);
        var tiles = Enumerable.Range(0, 6).Select(_ => AggregateFunctions.Create(aggregation, Int64)).ToArray();
        var textTiles = Enumerable.Range(0, 6).Select(_ => AggregateFunctions.Create(aggregation, FeatureType.Of(ScalarKind.String))).ToArray();
        var offset = rng.NextInt64(1L << 40);
        for (var i = 0; i < distinct; i++)
        {
            // Every value lands in one or two tiles: duplicates across tiles must not count twice.
            foreach (var t in new[] { rng.Next(6), rng.Next(6) })
            {
                tiles[t].Add(FeatureValue.FromInt64(offset + i), i);
                textTiles[t].Add(FeatureValue.FromString("user-" + (offset + i)), i);
            }
        }

        foreach (var set in new[] { tiles, textTiles })
        {
            var merged = AggregateFunctions.Create(aggregation, Int64);
            foreach (var t in set)
            {
                merged.MergeFrom(Bytes(t));
            }

            var estimate = merged.Result().AsInt64();
            Assert.InRange(estimate, distinct * (1 - (3 * StandardError)), distinct * (1 + (3 * StandardError)));
        }
    }

    [Fact]
    public void Aggregate_sketches_merge_to_identical_results_in_any_order()
    {
        var big = Gen.Long[0, 5_000].Select(FeatureValue.FromInt64);
        Gen.Select(Events(big, max: 3_000), Gen.Int).Sample((events, seed) =>
        {
            var results = MergeTiles(Of(AggregationFunction.CountDistinct), Int64, events, seed);
            AllEqual(results[0], results);
        }, seed: Seed, iter: 100, threads: 1);
        Gen.Select(Events(Gen.Double[-1e6, 1e6].Select(FeatureValue.FromFloat64), max: 500), Gen.Int).Sample((events, seed) =>
        {
            var results = MergeTiles(Of(AggregationFunction.ApproxPercentile, p: 0.9), Float64, events, seed);
            AllEqual(results[0], results);
        }, seed: Seed, iter: 100, threads: 1);
    }

    [Fact]
    public void Aggregate_approx_percentile_of_a_large_skewed_set_is_within_one_percent_at_every_percentile()
    {
        var rng = new Random(7);
        var values = new double[200_000];
        for (var i = 0; i < values.Length; i++)
        {
            // Log-normal latencies, a tenth negative.
            var gaussian = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            values[i] = Math.Exp(3 + (2 * gaussian)) * (i % 10 == 0 ? -1 : 1);
        }

        var sorted = values.Order().ToArray();
        foreach (var p in new[] { 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999 })
        {
            var aggregation = Of(AggregationFunction.ApproxPercentile, p: p);
            var tiles = Enumerable.Range(0, 4).Select(_ => AggregateFunctions.Create(aggregation, Float64)).ToArray();
            for (var i = 0; i < values.Length; i++)
            {
                tiles[i % 4].Add(FeatureValue.FromFloat64(values[i]), i);
            }

            var merged = AggregateFunctions.Create(aggregation, Float64);
            foreach (var t in tiles)
            {
                merged.MergeFrom(Bytes(t));
            }

            var truth = sorted[(int)Math.Ceiling(p * sorted.Length) - 1];
            var estimate = merged.Result().AsFloat64();
            Assert.True(Math.Abs(estimate - truth) <= 0.01 * Math.Abs(truth) * (1 + 1e-9), $"p{p}: {estimate:R} vs {truth:R}");
        }
    }

    [Fact]
    public void Aggregate_approx_percentile_collapses_the_lowest_buckets_and_stays_bounded()
    {
        // Magnitudes from 1e-300 to 1e300 need far more than 2048 buckets: the smallest fold into one.
        var s = AggregateFunctions.Create(Of(AggregationFunction.ApproxPercentile, p: 0.99), Float64);
        for (var e = -300; e <= 300; e++)
        {
            for (var j = 0; j < 10; j++)
            {
                s.Add(FeatureValue.FromFloat64(Math.Pow(10, e) * (1 + (j / 10.0))), 0);
            }
        }

        var bytes = Bytes(s);
        Assert.True(bytes.Length < 3 * 2048 + 16, $"{bytes.Length} bytes");

        // The high percentiles are in the kept range and keep the guarantee.
        var truth = Math.Pow(10, 294) * 1.9;
        var estimate = s.Result().AsFloat64();
        Assert.True(Math.Abs(estimate - truth) <= 0.01 * truth * (1 + 1e-9), $"{estimate:R} vs {truth:R}");
    }

    [Fact]
    public void Aggregate_approx_percentile_ignores_nan_and_infinities_and_handles_zero_and_negatives()
    {
        var s = AggregateFunctions.Create(Of(AggregationFunction.ApproxPercentile, p: 0.5), Float64);
        foreach (var v in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            s.Add(FeatureValue.FromFloat64(v), 0);
        }

        Assert.True(s.IsEmpty);
        foreach (var v in new[] { -5.0, 0, 0, 3, 7 })
        {
            s.Add(FeatureValue.FromFloat64(v), 0);
        }

        Assert.Equal(0.0, s.Result().AsFloat64());
        var min = AggregateFunctions.Create(Of(AggregationFunction.ApproxPercentile, p: 0), Float64);
        min.MergeFrom(Bytes(s));
        Assert.InRange(min.Result().AsFloat64(), -5.05, -4.95);
    }
}
