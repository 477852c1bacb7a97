using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Values;
using static Freshet.Core.Tests.AggregateTestKit;

namespace Freshet.Core.Tests;

/// <summary>Null, empty, overflow, compensation and tie rules of the aggregate states.</summary>
public sealed class AggregateBehaviourTests
{
    private static readonly FeatureType Int64 = FeatureType.Of(ScalarKind.Int64);
    private static readonly FeatureType Float64 = FeatureType.Of(ScalarKind.Float64);
    private static readonly FeatureType Text = FeatureType.Of(ScalarKind.String);

    /// <summary>Every function with an input type it accepts.</summary>
    public static TheoryData<AggregationFunction, ScalarKind> AllFunctions => new()
    {
        { AggregationFunction.Count, ScalarKind.Int64 },
        { AggregationFunction.Sum, ScalarKind.Int64 },
        { AggregationFunction.Sum, ScalarKind.Float64 },
        { AggregationFunction.Mean, ScalarKind.Float64 },
        { AggregationFunction.Min, ScalarKind.String },
        { AggregationFunction.Max, ScalarKind.Float64 },
        { AggregationFunction.First, ScalarKind.Int32 },
        { AggregationFunction.Last, ScalarKind.Bytes },
        { AggregationFunction.LastN, ScalarKind.Timestamp },
        { AggregationFunction.Stddev, ScalarKind.Float32 },
        { AggregationFunction.Variance, ScalarKind.Int64 },
        { AggregationFunction.CountDistinct, ScalarKind.String },
        { AggregationFunction.ApproxPercentile, ScalarKind.Float64 },
    };

    internal static Aggregation For(AggregationFunction f) => Of(f, k: 3, p: 0.5);

    internal static FeatureValue Sample(ScalarKind kind, int i) => kind switch
    {
        ScalarKind.Int32 => FeatureValue.FromInt32(i),
        ScalarKind.Int64 => FeatureValue.FromInt64(i),
        ScalarKind.Float32 => FeatureValue.FromFloat32(i + 0.5f),
        ScalarKind.Float64 => FeatureValue.FromFloat64(i + 0.25),
        ScalarKind.String => FeatureValue.FromString("v" + i),
        ScalarKind.Bytes => FeatureValue.FromBytes([(byte)i, 7]),
        ScalarKind.Timestamp => FeatureValue.FromTimestampMicros(1_000_000 * i),
        _ => FeatureValue.FromBool(i % 2 == 0),
    };

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_of_nothing_is_null_except_counts_which_are_zero(AggregationFunction function, ScalarKind kind)
    {
        var s = AggregateFunctions.Create(For(function), FeatureType.Of(kind));
        Assert.True(s.IsEmpty);
        Assert.Empty(Bytes(s));
        var expected = function is AggregationFunction.Count or AggregationFunction.CountDistinct ? FeatureValue.FromInt64(0) : FeatureValue.Null;
        Assert.Equal(expected, s.Result());
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_ignores_null_values(AggregationFunction function, ScalarKind kind)
    {
        var s = AggregateFunctions.Create(For(function), FeatureType.Of(kind));
        s.Add(FeatureValue.Null, 5);
        Assert.True(s.IsEmpty);
        s.Add(Sample(kind, 3), 6);
        var before = Bytes(s);
        s.Add(FeatureValue.Null, 7);
        Assert.Equal(before, Bytes(s));
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_merge_of_empty_changes_nothing_and_clear_empties(AggregationFunction function, ScalarKind kind)
    {
        var type = FeatureType.Of(kind);
        var s = AggregateFunctions.Create(For(function), type);
        for (var i = 0; i < 5; i++)
        {
            s.Add(Sample(kind, i), i);
        }

        var before = Bytes(s);
        var result = s.Result();
        s.Merge(AggregateFunctions.Create(For(function), type));
        s.MergeFrom([]);
        s.MergeFrom(Bytes(AggregateFunctions.Create(For(function), type)));
        Assert.Equal(before, Bytes(s));
        Assert.Equal(Show(result), Show(s.Result()));

        var empty = AggregateFunctions.Create(For(function), type);
        empty.Merge(s);
        Assert.Equal(before, Bytes(empty));

        s.Clear();
        Assert.True(s.IsEmpty);
        Assert.Empty(Bytes(s));
        s.MergeFrom(before);
        Assert.Equal(Show(result), Show(s.Result()));
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_serialization_round_trips_the_result(AggregationFunction function, ScalarKind kind)
    {
        var type = FeatureType.Of(kind);
        var s = AggregateFunctions.Create(For(function), type);
        for (var i = 0; i < 40; i++)
        {
            s.Add(Sample(kind, i % 17), i % 5);
        }

        var copy = AggregateFunctions.Create(For(function), type);
        copy.MergeFrom(Bytes(s));
        Assert.Equal(Show(s.Result()), Show(copy.Result()));
        Assert.Equal(Bytes(s), Bytes(copy));
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_result_kind_is_the_model_output_type(AggregationFunction function, ScalarKind kind)
    {
        var type = FeatureType.Of(kind);
        var s = AggregateFunctions.Create(For(function), type);
        s.Add(Sample(kind, 2), 1);
        s.Add(Sample(kind, 5), 2);
        Assert.Equal(FeatureValue.KindOf(AggregateFunctions.OutputType(For(function), type)), s.Result().Kind);
    }

    [Fact]
    public void Aggregate_int_sum_overflow_throws_and_keeps_the_state()
    {
        var s = Build(Of(AggregationFunction.Sum), Int64, [new(FeatureValue.FromInt64(long.MaxValue - 1), 0)]);
        Assert.Throws<OverflowException>(() => s.Add(FeatureValue.FromInt64(2), 1));
        Assert.Equal(FeatureValue.FromInt64(long.MaxValue - 1), s.Result());

        var other = Build(Of(AggregationFunction.Sum), Int64, [new(FeatureValue.FromInt64(5), 0)]);
        Assert.Throws<OverflowException>(() => s.Merge(other));
        Assert.Throws<OverflowException>(() => s.MergeFrom(Bytes(other)));
        Assert.Equal(FeatureValue.FromInt64(long.MaxValue - 1), s.Result());

        s.Add(FeatureValue.FromInt64(long.MinValue + 5), 2);
        Assert.Equal(FeatureValue.FromInt64(3), s.Result());
    }

    [Fact]
    public void Aggregate_compensated_sum_is_exact_where_naive_summation_loses_the_small_term()
    {
        double[] values = [1e16, 1, -1e16];
        Assert.Equal(0.0, values.Aggregate(0.0, (a, b) => a + b));
        var events = values.Select((v, i) => new AggregateEvent(FeatureValue.FromFloat64(v), i)).ToArray();
        Assert.Equal(1.0, Build(Of(AggregationFunction.Sum), Float64, events).Result().AsFloat64());
        Assert.Equal(1.0 / 3, Build(Of(AggregationFunction.Mean), Float64, events).Result().AsFloat64());

        // One value per tile, merged from bytes in every order: the compensation travels with the tile.
        foreach (var order in new[] { new[] { 0, 1, 2 }, [2, 1, 0], [1, 0, 2], [0, 2, 1] })
        {
            var merged = AggregateFunctions.Create(Of(AggregationFunction.Sum), Float64);
            foreach (var i in order)
            {
                merged.MergeFrom(Bytes(Build(Of(AggregationFunction.Sum), Float64, [events[i]])));
            }

            Assert.Equal(1.0, merged.Result().AsFloat64());
        }

        double[] many = [1e100, 1, 1e-3, -1e100, 1];
        Assert.Equal(2.001, Build(Of(AggregationFunction.Sum), Float64, many.Select(v => new AggregateEvent(FeatureValue.FromFloat64(v), 0))).Result().AsFloat64(), 15);
    }

    [Fact]
    public void Aggregate_variance_is_the_population_variance_and_stddev_its_root()
    {
        var events = new[] { 2.0, 4, 4, 4, 5, 5, 7, 9 }.Select(v => new AggregateEvent(FeatureValue.FromFloat64(v), 0)).ToArray();
        Assert.Equal(4.0, Build(Of(AggregationFunction.Variance), Float64, events).Result().AsFloat64(), 12);
        Assert.Equal(2.0, Build(Of(AggregationFunction.Stddev), Float64, events).Result().AsFloat64(), 12);
        Assert.Equal(0.0, Build(Of(AggregationFunction.Variance), Float64, events[..1]).Result().AsFloat64());
    }

    [Fact]
    public void Aggregate_variance_stays_accurate_far_from_zero()
    {
        // A naive sum of squares loses everything here: mean 1e9, variance 2/3.
        var events = new[] { 1e9 + 1, 1e9 + 2, 1e9 + 3 }.Select(v => new AggregateEvent(FeatureValue.FromFloat64(v), 0)).ToArray();
        var merged = Build(Of(AggregationFunction.Variance), Float64, events[..1]);
        merged.MergeFrom(Bytes(Build(Of(AggregationFunction.Variance), Float64, events[1..])));
        Assert.Equal(2.0 / 3, merged.Result().AsFloat64(), 9);
    }

    [Fact]
    public void Aggregate_last_prefers_the_greater_value_and_first_the_smaller_on_equal_event_times()
    {
        AggregateEvent[] events = [new(FeatureValue.FromInt64(5), 10), new(FeatureValue.FromInt64(-3), 10), new(FeatureValue.FromInt64(9), 10), new(FeatureValue.FromInt64(100), 9)];
        Assert.Equal(FeatureValue.FromInt64(9), Build(Of(AggregationFunction.Last), Int64, events).Result());
        Assert.Equal(FeatureValue.FromInt64(9), Build(Of(AggregationFunction.Last), Int64, events.Reverse()).Result());
        Assert.Equal(FeatureValue.FromInt64(100), Build(Of(AggregationFunction.First), Int64, events).Result());
        Assert.Equal(FeatureValue.FromInt64(-3), Build(Of(AggregationFunction.First), Int64, events[..3]).Result());
        var lastN = Build(Of(AggregationFunction.LastN, k: 3), Int64, events).Result();
        Assert.Equal(new long[] { 9, 5, -3 }, (long[])lastN.AsList());
    }

    [Fact]
    public void Aggregate_min_max_order_floats_with_negative_zero_first_and_ignore_nan()
    {
        var events = new[] { 0.0, -0.0, double.NaN, 1.5 }.Select(v => new AggregateEvent(FeatureValue.FromFloat64(v), 0)).ToArray();
        var min = Build(Of(AggregationFunction.Min), Float64, events).Result().AsFloat64();
        Assert.True(min == 0 && double.IsNegative(min));
        Assert.Equal(1.5, Build(Of(AggregationFunction.Max), Float64, events).Result().AsFloat64());
        Assert.True(Build(Of(AggregationFunction.Max), Float64, events[2..3]).IsEmpty);
        var neg = new[] { -2.5, -1e300, double.NegativeInfinity }.Select(v => new AggregateEvent(FeatureValue.FromFloat64(v), 0));
        Assert.Equal(double.NegativeInfinity, Build(Of(AggregationFunction.Min), Float64, neg).Result().AsFloat64());
    }

    [Fact]
    public void Aggregate_min_max_of_strings_use_code_point_order_not_utf16_order()
    {
        // U+FF5E is after U+1F600 in UTF-16 code units (0xFF5E > 0xD83D) but before it in code points.
        AggregateEvent[] events = [new(FeatureValue.FromString("\uFF5E"), 0), new(FeatureValue.FromString("😀"), 0), new(FeatureValue.FromString("z"), 0)];
        Assert.Equal("😀", Build(Of(AggregationFunction.Max), Text, events).Result().AsString());
        Assert.Equal("z", Build(Of(AggregationFunction.Min), Text, events).Result().AsString());
        var slice = FeatureValue.FromUtf8Slice("xxab"u8.ToArray(), 2, 2);
        Assert.Equal("ab", Build(Of(AggregationFunction.Min), Text, [.. events, new(slice, 0)]).Result().AsString());
    }

    [Fact]
    public void Aggregate_first_and_last_keep_lists()
    {
        var type = FeatureType.ListOf(ScalarKind.String);
        AggregateEvent[] events = [new(FeatureValue.FromList(ValueKind.StringList, new[] { "a", "b" }), 1), new(FeatureValue.FromList(ValueKind.StringList, new[] { "c" }), 2)];
        var last = Build(Of(AggregationFunction.Last), type, events);
        var copy = AggregateFunctions.Create(Of(AggregationFunction.Last), type);
        copy.MergeFrom(Bytes(last));
        Assert.Equal(new[] { "c" }, (string[])copy.Result().AsList());
        Assert.Equal(new[] { "a", "b" }, (string[])Build(Of(AggregationFunction.First), type, events).Result().AsList());
    }

    [Fact]
    public void Aggregate_count_distinct_is_exact_up_to_the_threshold_then_a_sketch()
    {
        var s = AggregateFunctions.Create(Of(AggregationFunction.CountDistinct), Int64);
        for (var i = 0; i < AggregateFunctions.CountDistinctExactLimit; i++)
        {
            s.Add(FeatureValue.FromInt64(i), 0);
            s.Add(FeatureValue.FromInt64(i), 1);
        }

        Assert.Equal(FeatureValue.FromInt64(AggregateFunctions.CountDistinctExactLimit), s.Result());
        Assert.False(((DistinctState)s).IsSketch);
        s.Add(FeatureValue.FromInt64(-1), 0);
        Assert.True(((DistinctState)s).IsSketch);
        Assert.InRange(s.Result().AsInt64(), 1000, 1050);
    }

    [Fact]
    public void Aggregate_count_distinct_hash_is_stable_across_processes()
    {
        // Pinned values: a change of hash would silently double-count across tiles written before and after.
        Assert.Equal("e21ecc59117bbd47", StableHash.OfBytes("freshet"u8).ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("cfc7a1c5588c0a37", StableHash.Of(FeatureValue.FromInt64(42)).ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(StableHash.Of(FeatureValue.FromString("freshet")), StableHash.Of(FeatureValue.FromUtf8Slice("-freshet-"u8.ToArray(), 1, 7)));
    }

    [Fact]
    public void Aggregate_create_rejects_bad_inputs_and_parameters()
    {
        Assert.Throws<ArgumentException>(() => AggregateFunctions.Create(Of(AggregationFunction.Sum), Text));
        Assert.Throws<ArgumentException>(() => AggregateFunctions.Create(Of(AggregationFunction.Sum), null));
        Assert.Throws<ArgumentException>(() => AggregateFunctions.Create(Of(AggregationFunction.LastN), Int64));
        Assert.Throws<ArgumentOutOfRangeException>(() => AggregateFunctions.Create(Of(AggregationFunction.LastN, k: 0), Int64));
        Assert.Throws<ArgumentOutOfRangeException>(() => AggregateFunctions.Create(Of(AggregationFunction.ApproxPercentile, p: 1.5), Float64));
        Assert.Throws<ArgumentException>(() => AggregateFunctions.Create(Of(AggregationFunction.CountDistinct), Float64));
        var sum = AggregateFunctions.Create(Of(AggregationFunction.Sum), Int64);
        Assert.Throws<ArgumentException>(() => sum.Merge(AggregateFunctions.Create(Of(AggregationFunction.Count), null)));
        Assert.Throws<ArgumentException>(() => AggregateFunctions.Create(Of(AggregationFunction.LastN, k: 2), Int64).Merge(AggregateFunctions.Create(Of(AggregationFunction.LastN, k: 3), Int64)));
    }

    [Fact]
    public void Aggregate_numeric_add_does_not_allocate()
    {
        var states = new[]
        {
            AggregateFunctions.Create(Of(AggregationFunction.Count), null),
            AggregateFunctions.Create(Of(AggregationFunction.Sum), Float64),
            AggregateFunctions.Create(Of(AggregationFunction.Mean), Float64),
            AggregateFunctions.Create(Of(AggregationFunction.Variance), Float64),
            AggregateFunctions.Create(Of(AggregationFunction.Min), Float64),
            AggregateFunctions.Create(Of(AggregationFunction.Last), Float64),
            AggregateFunctions.Create(Of(AggregationFunction.ApproxPercentile, p: 0.5), Float64),
        };
        void Run(int n)
        {
            for (var i = 0; i < n; i++)
            {
                var v = FeatureValue.FromFloat64(1 + (i % 100));
                foreach (var s in states)
                {
                    s.Add(v, i);
                }
            }
        }

        // The warm-up grows the sketch's buckets and the kept key buffers once.
        Run(1000);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(1000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
