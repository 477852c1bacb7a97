using System.Buffers;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary><c>count</c>: the number of non-null values (the engine gives a non-null marker for column-less counts).</summary>
internal sealed class CountState : AggregateState
{
    private const byte Tag = 0x11;
    private long _count;

    public override bool IsEmpty => _count == 0;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (!value.IsNull)
        {
            _count++;
        }
    }

    public override void Merge(AggregateState other) => _count = checked(_count + StateCodec.Same<CountState>(other)._count);

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        _count = checked(_count + Read(serialized));
    }

    public override void WriteTo(IBufferWriter<byte> output) => Write(output, _count);

    /// <summary>The count in written bytes (0 for none).</summary>
    internal static long Read(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return 0;
        }

        var r = new StateReader(serialized, Tag, "count");
        var n = r.ReadCount(long.MaxValue, "count");
        r.ExpectEnd();
        return n;
    }

    /// <summary>Writes a count (nothing for 0).</summary>
    internal static void Write(IBufferWriter<byte> output, long count)
    {
        if (count != 0)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteVarUInt(output, (ulong)count);
        }
    }

    public override FeatureValue Result() => FeatureValue.FromInt64(_count);

    public override void Clear() => _count = 0;
}

/// <summary>
/// <c>sum</c> of int32/int64 values as an exact int64. Overflow throws <see cref="OverflowException"/> from
/// <see cref="Add(in FeatureValue, long)"/> or the merge that overflows, leaving the state as it was before that call.
/// </summary>
internal sealed class Int64SumState : AggregateState
{
    private const byte Tag = 0x21;
    private long _sum;
    private bool _any;

    public override bool IsEmpty => !_any;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (value.IsNull)
        {
            return;
        }

        _sum = Add(_sum, value);
        _any = true;
    }

    /// <summary><paramref name="sum"/> plus a non-null integer value; throws on overflow or another kind.</summary>
    internal static long Add(long sum, in FeatureValue value) => value.Kind is ValueKind.Int32 or ValueKind.Int64
        ? checked(sum + value.AsInt64())
        : throw new ArgumentException($"an integer sum cannot add a {value.Kind}", nameof(value));

    /// <summary>The sum in written bytes, and 1 when there are any (0 for none).</summary>
    internal static (long Sum, long Any) Read(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return (0, 0);
        }

        var r = new StateReader(serialized, Tag, "sum");
        var s = r.ReadVarInt();
        r.ExpectEnd();
        return (s, 1);
    }

    /// <summary>Writes a sum (nothing when no value was added).</summary>
    internal static void Write(IBufferWriter<byte> output, long sum, bool any)
    {
        if (any)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteVarInt(output, sum);
        }
    }

    public override void Merge(AggregateState other)
    {
        var o = StateCodec.Same<Int64SumState>(other);
        if (o._any)
        {
            _sum = checked(_sum + o._sum);
            _any = true;
        }
    }

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        _sum = checked(_sum + Read(serialized).Sum);
        _any = true;
    }

    public override void WriteTo(IBufferWriter<byte> output) => Write(output, _sum, _any);

    public override FeatureValue Result() => _any ? FeatureValue.FromInt64(_sum) : FeatureValue.Null;

    public override void Clear()
    {
        _sum = 0;
        _any = false;
    }
}

/// <summary><c>sum</c> of float32/float64 values: a compensated float64 sum (see <see cref="CompensatedSum"/>).</summary>
internal sealed class Float64SumState : AggregateState
{
    private const byte Tag = 0x22;
    private CompensatedSum _sum;
    private bool _any;

    public override bool IsEmpty => !_any;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (!value.IsNull)
        {
            _sum.Add(NumericInput.Of(value));
            _any = true;
        }
    }

    public override void Merge(AggregateState other)
    {
        var o = StateCodec.Same<Float64SumState>(other);
        if (o._any)
        {
            _sum.Add(o._sum);
            _any = true;
        }
    }

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        _sum.Add(ReadPair(serialized));
        _any = true;
    }

    public override void WriteTo(IBufferWriter<byte> output) => Write(output, _sum, _any);

    /// <summary>The sum in written bytes merged into an empty sum, as <see cref="MergeFrom"/> after <see cref="Clear"/>; Any is 1 when there are any (0 for none).</summary>
    internal static (CompensatedSum Sum, long Any) Read(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return (default, 0);
        }

        var sum = default(CompensatedSum);
        sum.Add(ReadPair(serialized));
        return (sum, 1);
    }

    /// <summary>Writes a sum (nothing when no value was added).</summary>
    internal static void Write(IBufferWriter<byte> output, in CompensatedSum sum, bool any)
    {
        if (any)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteDouble(output, sum.Sum);
            StateCodec.WriteDouble(output, sum.Compensation);
        }
    }

    private static CompensatedSum ReadPair(ReadOnlySpan<byte> serialized)
    {
        var r = new StateReader(serialized, Tag, "sum");
        var o = new CompensatedSum { Sum = r.ReadDouble(), Compensation = r.ReadDouble() };
        r.ExpectEnd();
        return o;
    }

    public override FeatureValue Result() => _any ? FeatureValue.FromFloat64(_sum.Value) : FeatureValue.Null;

    public override void Clear()
    {
        _sum = default;
        _any = false;
    }
}

/// <summary><c>mean</c>: a count and a compensated float64 sum.</summary>
internal sealed class MeanState : AggregateState
{
    private const byte Tag = 0x31;
    private CompensatedSum _sum;
    private long _count;

    public override bool IsEmpty => _count == 0;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (!value.IsNull)
        {
            _sum.Add(NumericInput.Of(value));
            _count++;
        }
    }

    public override void Merge(AggregateState other)
    {
        var o = StateCodec.Same<MeanState>(other);
        if (o._count != 0)
        {
            _count = checked(_count + o._count);
            _sum.Add(o._sum);
        }
    }

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        var (n, o) = ReadParts(serialized);
        _count = checked(_count + n);
        _sum.Add(o);
    }

    public override void WriteTo(IBufferWriter<byte> output) => Write(output, _sum, _count);

    /// <summary>The mean in written bytes merged into an empty mean, as <see cref="MergeFrom"/> after <see cref="Clear"/> (a count of 0 for none).</summary>
    internal static (CompensatedSum Sum, long Count) Read(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return (default, 0);
        }

        var (n, o) = ReadParts(serialized);
        var sum = default(CompensatedSum);
        sum.Add(o);
        return (sum, n);
    }

    /// <summary>Writes a mean's count and sum (nothing for a count of 0).</summary>
    internal static void Write(IBufferWriter<byte> output, in CompensatedSum sum, long count)
    {
        if (count != 0)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteVarUInt(output, (ulong)count);
            StateCodec.WriteDouble(output, sum.Sum);
            StateCodec.WriteDouble(output, sum.Compensation);
        }
    }

    private static (long Count, CompensatedSum Sum) ReadParts(ReadOnlySpan<byte> serialized)
    {
        var r = new StateReader(serialized, Tag, "mean");
        var n = r.ReadCount(long.MaxValue, "count");
        var o = new CompensatedSum { Sum = r.ReadDouble(), Compensation = r.ReadDouble() };
        r.ExpectEnd();
        if (n == 0)
        {
            StateCodec.Invalid("mean: a written mean has no values");
        }

        return (n, o);
    }

    public override FeatureValue Result() => _count == 0 ? FeatureValue.Null : FeatureValue.FromFloat64(_sum.Value / _count);

    public override void Clear()
    {
        _sum = default;
        _count = 0;
    }
}

/// <summary>
/// <c>variance</c> and <c>stddev</c> (population: M2 / n, as Chronon and Tecton): count, mean and M2 (the sum of
/// squared deviations from the mean), added with Welford's update and merged with Chan et al.'s parallel rule.
/// </summary>
internal sealed class MomentsState(bool standardDeviation) : AggregateState
{
    private const byte Tag = 0x41;
    private long _count;
    private double _mean;
    private double _m2;

    public override bool IsEmpty => _count == 0;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (value.IsNull)
        {
            return;
        }

        var x = NumericInput.Of(value);
        _count++;
        var d = x - _mean;
        _mean += d / _count;
        _m2 += d * (x - _mean);
    }

    public override void Merge(AggregateState other)
    {
        var o = StateCodec.Same<MomentsState>(other);
        Combine(o._count, o._mean, o._m2);
    }

    private void Combine(long n, double mean, double m2)
    {
        if (n == 0)
        {
            return;
        }

        if (_count == 0)
        {
            (_count, _mean, _m2) = (n, mean, m2);
            return;
        }

        var total = checked(_count + n);
        var d = mean - _mean;
        var (na, nb) = ((double)_count, (double)n);
        _mean += d * (nb / total);
        _m2 += m2 + (d * d * (na * nb / total));
        _count = total;
    }

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        var r = new StateReader(serialized, Tag, "variance");
        var n = r.ReadCount(long.MaxValue, "count");
        var mean = r.ReadDouble();
        var m2 = r.ReadDouble();
        r.ExpectEnd();
        if (n == 0 || m2 < 0)
        {
            StateCodec.Invalid("variance: no values or a negative M2");
        }

        Combine(n, mean, m2);
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (_count != 0)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteVarUInt(output, (ulong)_count);
            StateCodec.WriteDouble(output, _mean);
            StateCodec.WriteDouble(output, _m2);
        }
    }

    public override FeatureValue Result()
    {
        if (_count == 0)
        {
            return FeatureValue.Null;
        }

        var variance = Math.Max(0, _m2 / _count);
        return FeatureValue.FromFloat64(standardDeviation ? Math.Sqrt(variance) : variance);
    }

    public override void Clear() => (_count, _mean, _m2) = (0, 0, 0);
}

/// <summary>The float64 of a numeric input value.</summary>
internal static class NumericInput
{
    public static double Of(in FeatureValue value) => value.Kind switch
    {
        ValueKind.Int32 or ValueKind.Int64 => value.AsInt64(),
        ValueKind.Float32 => value.AsFloat32(),
        ValueKind.Float64 => value.AsFloat64(),
        _ => throw new ArgumentException($"a numeric aggregation cannot add a {value.Kind}", nameof(value)),
    };
}
