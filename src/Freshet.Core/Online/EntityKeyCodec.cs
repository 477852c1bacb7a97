using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Freshet.Values;

namespace Freshet.Online;

/// <summary>
/// The one canonical byte encoding of an entity key (the ordered tuple of join-key values), used by every
/// store. Each value: a kind byte, then int32 as 4 and int64 as 8 big-endian bytes with the sign bit flipped
/// (so byte order is numeric order), strings and bytes as a varint length and the bytes. Values must already
/// have the join keys' declared types: 1001 as int32 and 1001 as int64 are different keys.
/// </summary>
public static class EntityKeyCodec
{
    /// <summary>Appends the encoding of <paramref name="values"/> to <paramref name="writer"/>.</summary>
    public static void Encode(ReadOnlySpan<FeatureValue> values, IBufferWriter<byte> writer)
    {
        foreach (ref readonly var v in values)
        {
            switch (v.Kind)
            {
                case ValueKind.Int32:
                    var s4 = writer.GetSpan(5);
                    s4[0] = (byte)ValueKind.Int32;
                    BinaryPrimitives.WriteUInt32BigEndian(s4[1..], (uint)v.AsInt32() ^ 0x8000_0000u);
                    writer.Advance(5);
                    break;
                case ValueKind.Int64:
                    var s8 = writer.GetSpan(9);
                    s8[0] = (byte)ValueKind.Int64;
                    BinaryPrimitives.WriteUInt64BigEndian(s8[1..], (ulong)v.AsInt64() ^ 0x8000_0000_0000_0000ul);
                    writer.Advance(9);
                    break;
                case ValueKind.String or ValueKind.Bytes:
                    var bytes = v.Utf8OrBytes;
                    var span = writer.GetSpan(1 + 5 + bytes.Length);
                    span[0] = (byte)v.Kind;
                    var n = 1 + Varint.Write(span[1..], (uint)bytes.Length);
                    bytes.CopyTo(span[n..]);
                    writer.Advance(n + bytes.Length);
                    break;
                default:
                    throw new ArgumentException($"a join key value must be int32, int64, string or bytes, not {v.Kind}", nameof(values));
            }
        }
    }

    /// <summary>The encoding of <paramref name="values"/> as a new array.</summary>
    public static byte[] Encode(ReadOnlySpan<FeatureValue> values)
    {
        // An online read encodes one key per entity row and view: the scratch buffer is the thread's, so a key
        // costs its one array rather than a writer, its buffer and the array.
        var buffer = _scratch ??= new ArrayBufferWriter<byte>(64);
        buffer.ResetWrittenCount();
        Encode(values, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _scratch;

    /// <summary>Reads an encoded key back into its values (for listings and debugging, not the hot path).</summary>
    public static FeatureValue[] Decode(ReadOnlySpan<byte> key)
    {
        var values = new List<FeatureValue>();
        var i = 0;
        while (i < key.Length)
        {
            var kind = (ValueKind)key[i++];
            switch (kind)
            {
                case ValueKind.Int32:
                    values.Add(FeatureValue.FromInt32((int)(BinaryPrimitives.ReadUInt32BigEndian(key[i..]) ^ 0x8000_0000u)));
                    i += 4;
                    break;
                case ValueKind.Int64:
                    values.Add(FeatureValue.FromInt64((long)(BinaryPrimitives.ReadUInt64BigEndian(key[i..]) ^ 0x8000_0000_0000_0000ul)));
                    i += 8;
                    break;
                case ValueKind.String or ValueKind.Bytes:
                    i += Varint.Read(key[i..], out var length);
                    var bytes = key.Slice(i, (int)length);
                    values.Add(kind == ValueKind.String ? FeatureValue.FromString(Encoding.UTF8.GetString(bytes)) : FeatureValue.FromBytes(bytes.ToArray()));
                    i += (int)length;
                    break;
                default:
                    throw new FormatException($"bad entity key: kind byte {(byte)kind} at {i - 1}");
            }
        }

        return [.. values];
    }
}

/// <summary>LEB128 unsigned varints.</summary>
public static class Varint
{
    /// <summary>Writes <paramref name="value"/>; returns the bytes written (1 to 5).</summary>
    public static int Write(Span<byte> span, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        return i;
    }

    /// <summary>Reads a varint; returns the bytes read.</summary>
    public static int Read(ReadOnlySpan<byte> span, out uint value)
    {
        value = 0;
        var shift = 0;
        for (var i = 0; i < 5; i++)
        {
            var b = span[i];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return i + 1;
            }

            shift += 7;
        }

        throw new FormatException("bad varint");
    }
}
