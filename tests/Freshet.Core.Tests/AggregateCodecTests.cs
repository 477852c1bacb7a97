using CsCheck;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Values;
using static Freshet.Core.Tests.AggregateTestKit;

namespace Freshet.Core.Tests;

/// <summary>The tile bytes of every state: round trips, layout tags, and garbage rejected with InvalidDataException.</summary>
public sealed class AggregateCodecTests
{
    public static TheoryData<AggregationFunction, ScalarKind> AllFunctions => AggregateBehaviourTests.AllFunctions;

    private static (AggregateState State, byte[] Bytes) Populated(AggregationFunction function, ScalarKind kind, int n = 40)
    {
        var s = AggregateFunctions.Create(AggregateBehaviourTests.For(function), FeatureType.Of(kind));
        for (var i = 0; i < n; i++)
        {
            s.Add(AggregateBehaviourTests.Sample(kind, i % 23), i % 7);
        }

        return (s, Bytes(s));
    }

    private static AggregateState Fresh(AggregationFunction function, ScalarKind kind) =>
        AggregateFunctions.Create(AggregateBehaviourTests.For(function), FeatureType.Of(kind));

    /// <summary>Merging garbage throws InvalidDataException and leaves the state as it was.</summary>
    private static void Rejects(AggregationFunction function, ScalarKind kind, byte[] garbage)
    {
        var (target, before) = Populated(function, kind, 5);
        var e = Assert.Throws<InvalidDataException>(() => target.MergeFrom(garbage));
        Assert.StartsWith("aggregate state:", e.Message);
        Assert.Equal(before, Bytes(target));
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_bytes_start_with_a_layout_tag_and_another_tag_is_rejected(AggregationFunction function, ScalarKind kind)
    {
        var (_, bytes) = Populated(function, kind);
        Assert.NotEmpty(bytes);
        foreach (var tag in new byte[] { 0x00, 0x12, 0x7F, 0xFF })
        {
            var wrong = bytes.ToArray();
            wrong[0] = tag;
            Rejects(function, kind, wrong);
        }
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_truncated_bytes_are_rejected(AggregationFunction function, ScalarKind kind)
    {
        var (_, bytes) = Populated(function, kind);
        for (var length = 1; length < bytes.Length; length++)
        {
            Rejects(function, kind, bytes[..length]);
        }
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_trailing_bytes_are_rejected(AggregationFunction function, ScalarKind kind)
    {
        var (_, bytes) = Populated(function, kind);
        Rejects(function, kind, [.. bytes, 0]);
        Rejects(function, kind, [.. bytes, 0x80, 0x80]);
    }

    [Theory]
    [MemberData(nameof(AllFunctions))]
    public void Aggregate_random_bytes_are_merged_or_rejected_never_crash(AggregationFunction function, ScalarKind kind)
    {
        var (_, valid) = Populated(function, kind);
        // Random tails after the right tag, and random flips of valid bytes: whatever parses must be usable.
        Gen.Select(Gen.Byte.Array[0, 64], Gen.Int[0, 1_000_000], Gen.Byte).Sample((tail, at, flip) =>
        {
            foreach (var candidate in new[] { [valid[0], .. tail], Flip(valid, at, flip) })
            {
                var s = Fresh(function, kind);
                try
                {
                    s.MergeFrom(candidate);
                }
                catch (InvalidDataException)
                {
                    continue;
                }

                _ = s.Result();
                var again = Fresh(function, kind);
                again.MergeFrom(Bytes(s));
            }
        }, seed: Seed, iter: Iterations, threads: 1);
    }

    private static byte[] Flip(byte[] bytes, int at, byte mask)
    {
        var copy = bytes.ToArray();
        copy[at % copy.Length] ^= mask;
        return copy;
    }

    [Fact]
    public void Aggregate_varint_longer_than_ten_bytes_is_rejected() =>
        Rejects(AggregationFunction.Count, ScalarKind.Int64, [0x11, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);

    [Fact]
    public void Aggregate_count_bytes_are_a_tag_and_a_varint()
    {
        var (_, bytes) = Populated(AggregationFunction.Count, ScalarKind.Int64, 300);
        Assert.Equal(new byte[] { 0x11, 0xAC, 0x02 }, bytes);
    }

    [Fact]
    public void Aggregate_last_n_bytes_of_another_k_are_rejected()
    {
        var other = Build(Of(AggregationFunction.LastN, k: 2), FeatureType.Of(ScalarKind.Int64), [new(FeatureValue.FromInt64(1), 1)]);
        var mine = AggregateFunctions.Create(Of(AggregationFunction.LastN, k: 3), FeatureType.Of(ScalarKind.Int64));
        Assert.Throws<InvalidDataException>(() => mine.MergeFrom(Bytes(other)));
    }

    [Fact]
    public void Aggregate_min_of_int64_rejects_a_string_key()
    {
        var text = Build(Of(AggregationFunction.Min), FeatureType.Of(ScalarKind.String), [new(FeatureValue.FromString("abc"), 1)]);
        var ints = AggregateFunctions.Create(Of(AggregationFunction.Min), FeatureType.Of(ScalarKind.Int64));
        Assert.Throws<InvalidDataException>(() => ints.MergeFrom(Bytes(text)));
    }
}
