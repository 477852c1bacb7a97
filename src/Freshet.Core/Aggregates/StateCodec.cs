using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Freshet.Aggregates;

/// <summary>
/// The bytes of a serialized state: a leading layout tag (which also versions the layout), then little-endian
/// fixed-width numbers and LEB128 varints (zigzag for signed). Every read is bounds-checked and throws
/// <see cref="InvalidDataException"/> on garbage, so a corrupt tile fails loudly instead of crashing or looping.
/// </summary>
internal static class StateCodec
{
    public static void WriteByte(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    public static void WriteVarUInt(IBufferWriter<byte> output, ulong value)
    {
        var span = output.GetSpan(10);
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        output.Advance(n);
    }

    public static void WriteVarInt(IBufferWriter<byte> output, long value) => WriteVarUInt(output, (ulong)((value << 1) ^ (value >> 63)));

    public static void WriteDouble(IBufferWriter<byte> output, double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    public static void WriteUInt64(IBufferWriter<byte> output, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    public static void WriteBlob(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        WriteVarUInt(output, (ulong)bytes.Length);
        output.Write(bytes);
    }

    /// <summary>Casts the other side of a merge, or throws when it is a state of another function.</summary>
    public static T Same<T>(AggregateState other)
        where T : AggregateState
    {
        ArgumentNullException.ThrowIfNull(other);
        return other as T ?? throw new ArgumentException($"cannot merge a {other.GetType().Name} into a {typeof(T).Name}", nameof(other));
    }

    [DoesNotReturn]
    public static void Invalid(string reason) => throw new InvalidDataException("aggregate state: " + reason);
}

/// <summary>A bounds-checked reader of <see cref="StateCodec"/> bytes.</summary>
internal ref struct StateReader
{
    private readonly ReadOnlySpan<byte> _span;
    private int _pos;

    /// <summary>Starts reading after checking the leading layout tag.</summary>
    public StateReader(ReadOnlySpan<byte> span, byte tag, string function)
    {
        _span = span;
        if (span.Length == 0 || span[0] != tag)
        {
            StateCodec.Invalid(span.Length == 0
                ? $"{function}: no bytes"
                : $"{function}: layout tag 0x{span[0]:x2} is not 0x{tag:x2} (another function, a newer version, or garbage)");
        }

        _pos = 1;
    }

    public readonly int Remaining => _span.Length - _pos;

    public byte ReadByte()
    {
        if (_pos >= _span.Length)
        {
            StateCodec.Invalid("truncated");
        }

        return _span[_pos++];
    }

    public ulong ReadVarUInt()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = ReadByte();
            if (shift == 63 && b > 1)
            {
                StateCodec.Invalid("varint overflows 64 bits");
            }

            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        StateCodec.Invalid("varint longer than 10 bytes");
        return 0;
    }

    public long ReadVarInt()
    {
        var u = ReadVarUInt();
        return (long)(u >> 1) ^ -(long)(u & 1);
    }

    /// <summary>A non-negative count read as a varint, at most <paramref name="max"/>.</summary>
    public long ReadCount(long max, string what)
    {
        var u = ReadVarUInt();
        if (u > (ulong)max)
        {
            StateCodec.Invalid($"{what} {u} is over {max}");
        }

        return (long)u;
    }

    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));

    public ReadOnlySpan<byte> ReadBytes(int length)
    {
        if (length < 0 || length > Remaining)
        {
            StateCodec.Invalid("truncated");
        }

        var s = _span.Slice(_pos, length);
        _pos += length;
        return s;
    }

    public ReadOnlySpan<byte> ReadBlob() => ReadBytes((int)ReadCount(Remaining, "length"));

    public readonly void ExpectEnd()
    {
        if (_pos != _span.Length)
        {
            StateCodec.Invalid($"{_span.Length - _pos} trailing bytes");
        }
    }
}
