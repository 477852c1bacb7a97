using System.Buffers;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// <c>last_n(k)</c>: the k greatest (event time, <see cref="ValueKey"/>) pairs, kept sorted newest first. Equal
/// event times are ordered by the value key, greater first, so the kept set and its order are the same whatever
/// the order of adds and merges; equal (time, value) pairs of different events are all kept.
/// </summary>
internal sealed class LastNState : AggregateState
{
    private const byte Tag = 0x71;

    /// <summary>The largest k accepted: the state is a sorted array and inserts are linear in k.</summary>
    public const int MaxK = 10_000;

    private readonly int _k;
    private readonly ValueKind _kind;
    private long[] _times = [];
    private byte[]?[] _keys = [];
    private int[] _lengths = [];
    private int _count;
    private ArrayBufferWriter<byte>? _scratch;

    public LastNState(int k, ValueKind kind)
    {
        if (k is < 1 or > MaxK)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"last_n needs 1 <= k <= {MaxK}");
        }

        _k = k;
        _kind = kind;
    }

    public override bool IsEmpty => _count == 0;

    public override void Add(in FeatureValue value, long eventMicros)
    {
        if (value.IsNull)
        {
            return;
        }

        if (value.Kind != _kind)
        {
            throw new ArgumentException($"last_n of {_kind} cannot add a {value.Kind}", nameof(value));
        }

        Span<byte> buffer = stackalloc byte[8];
        Offer(eventMicros, ValueKey.Of(value, _kind, buffer, ref _scratch));
    }

    private int Compare(long time, ReadOnlySpan<byte> key, int i)
    {
        var c = time.CompareTo(_times[i]);
        return c != 0 ? c : key.SequenceCompareTo(_keys[i].AsSpan(0, _lengths[i]));
    }

    private void Offer(long time, ReadOnlySpan<byte> key)
    {
        if (_count == _k && Compare(time, key, _count - 1) <= 0)
        {
            return;
        }

        if (_times.Length == 0)
        {
            var capacity = Math.Min(_k, 16);
            _times = new long[capacity];
            _keys = new byte[capacity][];
            _lengths = new int[capacity];
        }
        else if (_count == _times.Length && _count < _k)
        {
            var capacity = Math.Min(_k, _count * 2);
            Array.Resize(ref _times, capacity);
            Array.Resize(ref _keys, capacity);
            Array.Resize(ref _lengths, capacity);
        }

        // Newest first: the position is after every entry that is greater or equal.
        var pos = _count;
        while (pos > 0 && Compare(time, key, pos - 1) > 0)
        {
            pos--;
        }

        // The slot that falls off (or the next free one) lends its buffer to the new entry.
        var last = _count == _k ? _k - 1 : _count;
        var buffer = _keys[last];
        for (var i = last; i > pos; i--)
        {
            _times[i] = _times[i - 1];
            _keys[i] = _keys[i - 1];
            _lengths[i] = _lengths[i - 1];
        }

        if (buffer is null || buffer.Length < key.Length)
        {
            buffer = new byte[Math.Max(key.Length, 8)];
        }

        key.CopyTo(buffer);
        _times[pos] = time;
        _keys[pos] = buffer;
        _lengths[pos] = key.Length;
        if (_count < _k)
        {
            _count++;
        }
    }

    public override void Merge(AggregateState other)
    {
        var o = StateCodec.Same<LastNState>(other);
        if (o._k != _k || o._kind != _kind)
        {
            throw new ArgumentException($"cannot merge last_n({o._k}) of {o._kind} into last_n({_k}) of {_kind}", nameof(other));
        }

        if (ReferenceEquals(o, this))
        {
            // Offer shifts the arrays being read: merge from a copy.
            var copy = new ArrayBufferWriter<byte>();
            WriteTo(copy);
            MergeFrom(copy.WrittenSpan);
            return;
        }

        for (var i = 0; i < o._count; i++)
        {
            Offer(o._times[i], o._keys[i].AsSpan(0, o._lengths[i]));
        }
    }

    public override void MergeFrom(ReadOnlySpan<byte> serialized)
    {
        if (serialized.IsEmpty)
        {
            return;
        }

        var r = new StateReader(serialized, Tag, "last_n");
        var k = r.ReadCount(MaxK, "k");
        if (k != _k)
        {
            StateCodec.Invalid($"last_n: written for k = {k}, this state has k = {_k}");
        }

        var n = r.ReadCount(k, "entry count");
        if (n == 0)
        {
            StateCodec.Invalid("last_n: a written state has no entries");
        }

        // Validate everything before changing the state, so garbage leaves it untouched.
        var start = r;
        for (var i = 0; i < n; i++)
        {
            _ = r.ReadVarInt();
            ValueKey.Validate(_kind, r.ReadBlob());
        }

        r.ExpectEnd();
        r = start;
        for (var i = 0; i < n; i++)
        {
            var time = r.ReadVarInt();
            Offer(time, r.ReadBlob());
        }
    }

    public override void WriteTo(IBufferWriter<byte> output)
    {
        if (_count == 0)
        {
            return;
        }

        StateCodec.WriteByte(output, Tag);
        StateCodec.WriteVarUInt(output, (ulong)_k);
        StateCodec.WriteVarUInt(output, (ulong)_count);
        for (var i = 0; i < _count; i++)
        {
            StateCodec.WriteVarInt(output, _times[i]);
            StateCodec.WriteBlob(output, _keys[i].AsSpan(0, _lengths[i]));
        }
    }

    public override FeatureValue Result()
    {
        if (_count == 0)
        {
            return FeatureValue.Null;
        }

        var values = new FeatureValue[_count];
        for (var i = 0; i < _count; i++)
        {
            values[i] = ValueKey.Decode(_kind, _keys[i].AsSpan(0, _lengths[i]));
        }

        return ValueKey.ListOf(_kind, values);
    }

    public override void Clear() => _count = 0;
}
