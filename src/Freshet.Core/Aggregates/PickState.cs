using System.Buffers;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>Which single value a <see cref="PickState"/> keeps.</summary>
internal enum PickRule : byte
{
    Min,
    Max,
    First,
    Last,
}

/// <summary>
/// <c>min</c>, <c>max</c>, <c>first</c> and <c>last</c>: one value kept as its <see cref="ValueKey"/>. Each keeps
/// the extreme of a total order, so the result does not depend on the order of adds and merges: min and max by
/// the key order (NaN is ignored), first by (event time, key) smallest, last by (event time, key) greatest:
/// on a tie of event times, first keeps the smaller value and last the greater one.
/// </summary>
internal sealed class PickState : AggregateState
{
    private readonly PickRule _rule;
    private readonly ValueKind _kind;
    private readonly byte _tag;
    private readonly string _name;
    private byte[] _key = [];
    private int _keyLength;
    private long _time;
    private bool _has;
    private ArrayBufferWriter<byte>? _scratch;

    public PickState(PickRule rule, ValueKind kind)
    {
        _rule = rule;
        _kind = kind;
        _tag = (byte)(0x51 + (int)rule);
        _name = rule.ToString().ToLowerInvariant();
    }

    private bool Timed => _rule is PickRule.First or PickRule.Last;

    public override bool IsEmpty => !_has;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (value.IsNull)
        {
            return;
        }

        if (value.Kind != _kind)
        {
            throw new ArgumentException($"{_name} of {_kind} cannot add a {value.Kind}", nameof(value));
        }

        if (!Timed && ((value.Kind == ValueKind.Float64 && double.IsNaN(value.AsFloat64())) || (value.Kind == ValueKind.Float32 && float.IsNaN(value.AsFloat32()))))
        {
            return;
        }

        Span<byte> buffer = stackalloc byte[8];
        Offer(eventMicros, ValueKey.Of(value, _kind, buffer, ref _scratch));
    }

    private void Offer(long time, ReadOnlySpan<byte> key)
    {
        if (_has)
        {
            var c = Timed ? time.CompareTo(_time) : 0;
            if (c == 0)
            {
                c = key.SequenceCompareTo(_key.AsSpan(0, _keyLength));
            }

            var takes = _rule is PickRule.Min or PickRule.First ? c < 0 : c > 0;
            if (!takes)
            {
                return;
            }
        }

        if (_key.Length < key.Length)
        {
            _key = new byte[Math.Max(key.Length, 8)];
        }

        key.CopyTo(_key);
        _keyLength = key.Length;
        _time = Timed ? time : 0;
        _has = true;
    }

    public override void Merge(AggregateState other)
    {
        var o = StateCodec.Same<PickState>(other);
        if (o._rule != _rule || o._kind != _kind)
        {
            throw new ArgumentException($"cannot merge {o._name} of {o._kind} into {_name} of {_kind}", nameof(other));
        }

        if (o._has)
        {
            Offer(o._time, o._key.AsSpan(0, o._keyLength));
        }
    }

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        var r = new StateReader(serialized, _tag, _name);
        var time = Timed ? r.ReadVarInt() : 0;
        var key = r.ReadBlob();
        r.ExpectEnd();
        ValueKey.Validate(_kind, key);
        Offer(time, key);
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (!_has)
        {
            return;
        }

        StateCodec.WriteByte(output, _tag);
        if (Timed)
        {
            StateCodec.WriteVarInt(output, _time);
        }

        StateCodec.WriteBlob(output, _key.AsSpan(0, _keyLength));
    }

    public override FeatureValue Result() => _has ? ValueKey.Decode(_kind, _key.AsSpan(0, _keyLength)) : FeatureValue.Null;

    public override void Clear()
    {
        _has = false;
        _keyLength = 0;
        _time = 0;
    }
}
