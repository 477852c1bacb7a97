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

        var r = new StateReader(serialized, Tag, "count");
        var n = r.ReadCount(long.MaxValue, "count");
        r.ExpectEnd();
        _count = checked(_count + n);
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (_count != 0)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteVarUInt(output, (ulong)_count);
        }
    }

    public override FeatureValue Result() => FeatureValue.FromInt64(_count);

    public override void Clear() => _count = 0;
}

/// <summary>
/// <c>sum</c> of int32/int64 values as an exact int64. Overflow throws <see cref="OverflowException"/> from
/// <see cref="Add"/> or the merge that overflows, leaving the state as it was before that call.
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

        if (value.Kind is not (ValueKind.Int32 or ValueKind.Int64))
        {
            throw new ArgumentException($"an integer sum cannot add a {value.Kind}", nameof(value));
        }

        _sum = checked(_sum + value.AsInt64());
        _any = true;
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

        var r = new StateReader(serialized, Tag, "sum");
        var s = r.ReadVarInt();
        r.ExpectEnd();
        _sum = checked(_sum + s);
        _any = true;
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (_any)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteVarInt(output, _sum);
        }
    }

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

        var r = new StateReader(serialized, Tag, "sum");
        var o = new CompensatedSum { Sum = r.ReadDouble(), Compensation = r.ReadDouble() };
        r.ExpectEnd();
        _sum.Add(o);
        _any = true;
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (_any)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteDouble(output, _sum.Sum);
            StateCodec.WriteDouble(output, _sum.Compensation);
        }
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

        var r = new StateReader(serialized, Tag, "mean");
        var n = r.ReadCount(long.MaxValue, "count");
        var o = new CompensatedSum { Sum = r.ReadDouble(), Compensation = r.ReadDouble() };
        r.ExpectEnd();
        if (n == 0)
        {
            StateCodec.Invalid("mean: a written mean has no values");
        }

        _count = checked(_count + n);
        _sum.Add(o);
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (_count != 0)
        {
            StateCodec.WriteByte(output, Tag);
            StateCodec.WriteVarUInt(output, (ulong)_count);
            StateCodec.WriteDouble(output, _sum.Sum);
            StateCodec.WriteDouble(output, _sum.Compensation);
        }
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
