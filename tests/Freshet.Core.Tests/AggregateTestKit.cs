using System.Buffers;
using System.Numerics;
using System.Text;
using CsCheck;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>One event of a property test: a value (maybe null) at an event time.</summary>
public readonly record struct AggregateEvent(FeatureValue Value, long Time);

/// <summary>Builds tiles from events the way the tile engine does and merges them in random orders.</summary>
internal static class AggregateTestKit
{
    /// <summary>The number of generated cases of each property test.</summary>
    public const int Iterations = 300;

    /// <summary>A fixed seed for the first case, so that a run is reproducible; CsCheck prints the seed of any failure.</summary>
    public const string Seed = "1At2dfVAXVf1";

    public static Aggregation Of(AggregationFunction function, int? k = null, double? p = null) =>
        new(function, function == AggregationFunction.Count ? null : "x", TimeSpan.FromHours(1)) { K = k, Percentile = p };

    /// <summary>Event times in a small range, so that ties on event time are common.</summary>
    public static readonly Gen<long> Time = Gen.Long[0, 30];

    /// <summary>Events of a value generator, a tenth of them null.</summary>
    public static Gen<AggregateEvent[]> Events(Gen<FeatureValue> value, int max = 120) =>
        Gen.Select(Gen.Int[0, 9], value, Time, (n, v, t) => new AggregateEvent(n == 0 ? FeatureValue.Null : v, t)).Array[0, max];

    /// <summary>Doubles k / 2^e, exact in float64, so that a reference can sum them exactly as k · 2^(20 - e).</summary>
    public static readonly Gen<FeatureValue> ExactDouble =
        Gen.Select(Gen.Long[-(1L << 40), 1L << 40], Gen.Int[0, 20], (k, e) => FeatureValue.FromFloat64(k / Math.Pow(2, e)));

    /// <summary>The exact value of such a double times 2^20.</summary>
    public static BigInteger Scaled(double x) => new(x * (1 << 20));

    private const string Alphabet = "abzAZ09 éß日～😀";

    /// <summary>Short strings over ASCII, Latin-1, CJK, a fullwidth form and an astral emoji (UTF-16 order differs from code point order there).</summary>
    public static readonly Gen<FeatureValue> Text =
        Gen.Int[0, 9].Array[0, 4].Select(ix =>
        {
            var runes = Alphabet.EnumerateRunes().ToArray();
            var sb = new StringBuilder();
            foreach (var i in ix)
            {
                sb.Append(runes[i].ToString());
            }

            return FeatureValue.FromString(sb.ToString());
        });

    /// <summary>Code point order of strings, written independently of the UTF-8 byte order the states use.</summary>
    public static int CodePointCompare(string a, string b)
    {
        var x = a.EnumerateRunes().Select(r => r.Value).ToArray();
        var y = b.EnumerateRunes().Select(r => r.Value).ToArray();
        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            if (x[i] != y[i])
            {
                return x[i].CompareTo(y[i]);
            }
        }

        return x.Length.CompareTo(y.Length);
    }

    /// <summary>
    /// Splits the events at random into tiles, builds one state per tile, then merges the tiles two ways: from
    /// their bytes into a fresh state in a random order, and as objects pairwise in a random tree. Both results
    /// (and the result of the bytes of the merged state read back) are returned.
    /// </summary>
    public static FeatureValue[] MergeTiles(Aggregation aggregation, FeatureType? input, AggregateEvent[] events, int seed)
    {
        var rng = new Random(seed);
        var tiles = new AggregateState[rng.Next(1, 9)];
        for (var i = 0; i < tiles.Length; i++)
        {
            tiles[i] = AggregateFunctions.Create(aggregation, input);
        }

        foreach (var e in events)
        {
            tiles[rng.Next(tiles.Length)].Add(e.Value, e.Time);
        }

        var viaBytes = AggregateFunctions.Create(aggregation, input);
        foreach (var i in Enumerable.Range(0, tiles.Length).OrderBy(_ => rng.Next()))
        {
            viaBytes.MergeFrom(Bytes(tiles[i]));
        }

        var reread = AggregateFunctions.Create(aggregation, input);
        reread.MergeFrom(Bytes(viaBytes));

        var pool = tiles.ToList();
        while (pool.Count > 1)
        {
            var a = rng.Next(pool.Count);
            var b = rng.Next(pool.Count - 1);
            b = b >= a ? b + 1 : b;
            pool[a].Merge(pool[b]);
            pool.RemoveAt(b);
        }

        return [viaBytes.Result(), reread.Result(), pool[0].Result()];
    }

    public static byte[] Bytes(AggregateState state)
    {
        var w = new ArrayBufferWriter<byte>();
        state.WriteTo(w);
        return w.WrittenSpan.ToArray();
    }

    public static AggregateState Build(Aggregation aggregation, FeatureType? input, IEnumerable<AggregateEvent> events)
    {
        var s = AggregateFunctions.Create(aggregation, input);
        foreach (var e in events)
        {
            s.Add(e.Value, e.Time);
        }

        return s;
    }

    /// <summary>Checks that every merged result equals the reference exactly.</summary>
    public static void AllEqual(FeatureValue expected, FeatureValue[] actual)
    {
        foreach (var a in actual)
        {
            if (!expected.Equals(a))
            {
                throw new Xunit.Sdk.XunitException($"expected {Show(expected)}, got {Show(a)}");
            }
        }
    }

    /// <summary>Checks that every merged float64 is within <paramref name="relative"/> of the reference.</summary>
    public static void AllClose(double? expected, FeatureValue[] actual, double relative)
    {
        foreach (var a in actual)
        {
            if (expected is not { } e)
            {
                Assert.True(a.IsNull, $"expected null, got {a}");
                continue;
            }

            Assert.Equal(ValueKind.Float64, a.Kind);
            var x = a.AsFloat64();
            Assert.True(Math.Abs(x - e) <= relative * Math.Abs(e), $"expected {e:R}, got {x:R} (relative error {Math.Abs(x - e) / Math.Abs(e):E2})");
        }
    }

    public static string Show(FeatureValue v) => v.Kind >= ValueKind.BoolList
        ? "[" + string.Join(", ", v.AsList().Cast<object>()) + "]"
        : v.ToString();
}
