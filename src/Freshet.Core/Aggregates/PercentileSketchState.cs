using System.Buffers;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// <c>approx_percentile(p)</c>: a DDSketch (Masson, Rim and Lee, 2019) with relative accuracy α = 0.01. A value x
/// counts in bucket i = ceil(log_γ |x|), γ = (1 + α) / (1 - α), of the positive or the negative store, or in the
/// zero count; bucket i answers 2γ^i / (γ + 1), within α of every value in (γ^(i-1), γ^i]. Each store keeps at
/// most <see cref="MaxBuckets"/> buckets: buckets below the highest index minus that bound are folded into the
/// lowest kept one, so the accuracy holds for values within a factor γ^2048 ≈ 6e17 of the largest magnitude of
/// their sign. NaN and infinities are ignored. Counts add, so merges are exact and order-independent.
/// </summary>
internal sealed class PercentileSketchState : AggregateState
{
    public const double RelativeAccuracy = 0.01;
    public const int MaxBuckets = 2048;
    private const byte Tag = 0x91;

    // Indices stay well inside int range: |log_γ| of any finite double is below 40 000.
    private const long MaxIndex = 1 << 20;

    private static readonly double Gamma = (1 + RelativeAccuracy) / (1 - RelativeAccuracy);
    private static readonly double LogGamma = Math.Log(Gamma);

    private readonly double _p;
    private readonly BucketStore _positive = new();
    private readonly BucketStore _negative = new();
    private long _zeros;

    public PercentileSketchState(double p)
    {
        if (!(p is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "approx_percentile needs 0 <= p <= 1");
        }

        _p = p;
    }

    private long Total => _zeros + _positive.Total + _negative.Total;

    public override bool IsEmpty => Total == 0;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (value.IsNull)
        {
            return;
        }

        var x = NumericInput.Of(value);
        if (!double.IsFinite(x))
        {
            return;
        }

        if (x == 0)
        {
            _zeros++;
        }
        else if (x > 0)
        {
            _positive.Add(IndexOf(x), 1);
        }
        else
        {
            _negative.Add(IndexOf(-x), 1);
        }
    }

    private static int IndexOf(double magnitude) => (int)Math.Ceiling(Math.Log(magnitude) / LogGamma);

    private static double ValueOf(int index) => 2 * Math.Exp(index * LogGamma) / (Gamma + 1);

    public override void Merge(AggregateState other)
    {
        var o = StateCodec.Same<PercentileSketchState>(other);
        _zeros = checked(_zeros + o._zeros);
        _positive.Merge(o._positive);
        _negative.Merge(o._negative);
    }

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        var r = new StateReader(serialized, Tag, "approx_percentile");
        var zeros = r.ReadCount(long.MaxValue, "zero count");
        var check = r;
        var positive = BucketStore.Validate(ref check);
        var negative = BucketStore.Validate(ref check);
        check.ExpectEnd();
        if (zeros + positive < zeros || zeros + positive + negative < zeros + positive)
        {
            StateCodec.Invalid("approx_percentile: the total count overflows");
        }

        _zeros = checked(_zeros + zeros);
        _positive.MergeFrom(ref r);
        _negative.MergeFrom(ref r);
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (IsEmpty)
        {
            return;
        }

        StateCodec.WriteByte(output, Tag);
        StateCodec.WriteVarUInt(output, (ulong)_zeros);
        _positive.WriteTo(output);
        _negative.WriteTo(output);
    }

    /// <summary>
    /// The value of nearest rank: the r-th smallest (1-based) with r = max(1, ceil(p · n)), p · n computed in
    /// float64, answered by the bucket that holds it.
    /// </summary>
    public override FeatureValue Result()
    {
        var n = Total;
        if (n == 0)
        {
            return FeatureValue.Null;
        }

        var rank = Math.Clamp((long)Math.Ceiling(_p * n), 1, n);
        if (rank <= _negative.Total)
        {
            // Negative values from the most negative: the negative store from its highest index down.
            return FeatureValue.FromFloat64(-ValueOf(_negative.IndexAtRankFromTop(rank)));
        }

        rank -= _negative.Total;
        if (rank <= _zeros)
        {
            return FeatureValue.FromFloat64(0);
        }

        rank -= _zeros;
        return FeatureValue.FromFloat64(ValueOf(_positive.IndexAtRankFromBottom(rank)));
    }

    public override void Clear()
    {
        _zeros = 0;
        _positive.Clear();
        _negative.Clear();
    }

    /// <summary>
    /// Dense counts for the bucket indices [min, max], at most <see cref="MaxBuckets"/> wide: lower indices fold
    /// into max - MaxBuckets + 1 (the collapsing-lowest store of DDSketch).
    /// </summary>
    private sealed class BucketStore
    {
        private long[] _counts = [];
        private int _offset;
        private int _min;
        private int _max;

        public long Total { get; private set; }

        public void Add(int index, long count)
        {
            if (Total == 0)
            {
                _min = _max = index;
                if (_counts.Length == 0)
                {
                    _counts = new long[64];
                }

                Array.Clear(_counts);
                _offset = index - (_counts.Length / 2);
            }
            else
            {
                var max = Math.Max(_max, index);
                var lowest = max - MaxBuckets + 1;
                var min = Math.Max(Math.Min(_min, index), lowest);
                if (min != _min || max != _max)
                {
                    Reshape(min, max);
                }

                index = Math.Max(index, lowest);
            }

            _counts[index - _offset] += count;
            Total = checked(Total + count);
        }

        private void Reshape(int min, int max)
        {
            // Fold the counts that fall below the new lowest bucket.
            long folded = 0;
            for (var i = _min; i < min && i <= _max; i++)
            {
                folded += _counts[i - _offset];
                _counts[i - _offset] = 0;
            }

            if (min < _offset || max >= _offset + _counts.Length)
            {
                var width = max - min + 1;
                var capacity = Math.Max(width + 32, Math.Min(_counts.Length * 2, 2 * MaxBuckets));
                var counts = new long[capacity];
                var offset = min - ((capacity - width) / 2);
                for (var i = Math.Max(_min, min); i <= _max; i++)
                {
                    counts[i - offset] = _counts[i - _offset];
                }

                _counts = counts;
                _offset = offset;
            }

            _counts[min - _offset] += folded;
            _min = min;
            _max = max;
        }

        public void Merge(BucketStore other)
        {
            for (var i = other._min; other.Total != 0 && i <= other._max; i++)
            {
                var c = other._counts[i - other._offset];
                if (c != 0)
                {
                    Add(i, c);
                }
            }
        }

        public int IndexAtRankFromBottom(long rank)
        {
            for (var i = _min; i <= _max; i++)
            {
                rank -= _counts[i - _offset];
                if (rank <= 0)
                {
                    return i;
                }
            }

            return _max;
        }

        public int IndexAtRankFromTop(long rank)
        {
            for (var i = _max; i >= _min; i--)
            {
                rank -= _counts[i - _offset];
                if (rank <= 0)
                {
                    return i;
                }
            }

            return _min;
        }

        /// <summary>Layout: varint bucket count, then per non-empty bucket the zigzag index gap and the varint count.</summary>
        public void WriteTo(IBufferWriter<byte> output)
        {
            var buckets = 0;
            for (var i = _min; Total != 0 && i <= _max; i++)
            {
                if (_counts[i - _offset] != 0)
                {
                    buckets++;
                }
            }

            StateCodec.WriteVarUInt(output, (ulong)buckets);
            long previous = 0;
            for (var i = _min; Total != 0 && i <= _max; i++)
            {
                var c = _counts[i - _offset];
                if (c != 0)
                {
                    StateCodec.WriteVarInt(output, i - previous);
                    StateCodec.WriteVarUInt(output, (ulong)c);
                    previous = i;
                }
            }
        }

        /// <summary>Checks a written store and returns its total count.</summary>
        public static long Validate(ref StateReader r)
        {
            var n = r.ReadCount(r.Remaining / 2, "bucket count");
            long index = 0;
            long total = 0;
            for (var i = 0; i < n; i++)
            {
                var gap = r.ReadVarInt();
                if (gap is > 2 * MaxIndex or < -2 * MaxIndex || (i > 0 && gap <= 0))
                {
                    StateCodec.Invalid("approx_percentile: bucket indices are not increasing");
                }

                index += gap;
                if (index is > MaxIndex or < -MaxIndex)
                {
                    StateCodec.Invalid($"approx_percentile: bucket index {index} is out of range");
                }

                var c = r.ReadCount(long.MaxValue, "bucket count");
                if (c == 0 || (total += c) < 0)
                {
                    StateCodec.Invalid("approx_percentile: a bucket count is zero or the total overflows");
                }
            }

            return total;
        }

        public void MergeFrom(ref StateReader r)
        {
            var n = r.ReadCount(r.Remaining / 2, "bucket count");
            long index = 0;
            for (var i = 0; i < n; i++)
            {
                index += r.ReadVarInt();
                Add((int)index, r.ReadCount(long.MaxValue, "bucket count"));
            }
        }

        public void Clear()
        {
            Total = 0;
            _min = _max = 0;
        }
    }
}
