using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// The order-preserving byte key of a value, used by min, max, first, last and last_n both as the stored form
/// and as the order: comparing keys as bytes (ordinal) orders integers and timestamps numerically, floats by
/// IEEE-754 totalOrder (-NaN &lt; -inf &lt; ... &lt; -0 &lt; +0 &lt; ... &lt; +inf &lt; NaN), bools false &lt; true and
/// strings by UTF-8 bytes, which is Unicode code point order. Fixed-width kinds are 8 bytes big-endian (1 for
/// bool) so that byte order is numeric order; int32 and float32 widen to 64 bits exactly. Lists (allowed for
/// first and last) are a varint count then their items (text and bytes items length-prefixed): a deterministic
/// but not meaningful order.
/// </summary>
internal static class ValueKey
{
    private const ulong SignBit = 0x8000_0000_0000_0000UL;

    /// <summary>The key width of a fixed-width kind, or 0 for text, bytes and lists.</summary>
    public static int FixedWidth(ValueKind kind) => kind switch
    {
        ValueKind.Bool => 1,
        ValueKind.Int32 or ValueKind.Int64 or ValueKind.Timestamp or ValueKind.Float32 or ValueKind.Float64 => 8,
        _ => 0,
    };

    /// <summary>Writes the key of a fixed-width value into <paramref name="key"/> (of <see cref="FixedWidth"/> bytes).</summary>
    public static void WriteFixed(in FeatureValue value, Span<byte> key)
    {
        switch (value.Kind)
        {
            case ValueKind.Bool:
                key[0] = value.AsBool() ? (byte)1 : (byte)0;
                break;
            case ValueKind.Float32:
                BinaryPrimitives.WriteUInt64BigEndian(key, FloatBits(value.AsFloat32()));
                break;
            case ValueKind.Float64:
                BinaryPrimitives.WriteUInt64BigEndian(key, FloatBits(value.AsFloat64()));
                break;
            default:
                BinaryPrimitives.WriteUInt64BigEndian(key, (ulong)value.AsInt64() ^ SignBit);
                break;
        }
    }

    private static ulong FloatBits(double d)
    {
        var bits = (ulong)BitConverter.DoubleToInt64Bits(d);
        return (bits & SignBit) != 0 ? ~bits : bits ^ SignBit;
    }

    private static double FromFloatBits(ulong u) => BitConverter.Int64BitsToDouble((long)((u & SignBit) != 0 ? u ^ SignBit : ~u));

    /// <summary>
    /// The key bytes of <paramref name="value"/> (of <paramref name="kind"/>): written into <paramref name="fixedBuffer"/>
    /// (8 bytes, for fixed-width kinds), the value's own UTF-8 or bytes, or <paramref name="scratch"/> (created on
    /// first use) for the other kinds. The span is valid until the buffer or scratch is reused.
    /// </summary>
    public static ReadOnlySpan<byte> Of(in FeatureValue value, ValueKind kind, Span<byte> fixedBuffer, ref ArrayBufferWriter<byte>? scratch)
    {
        var width = FixedWidth(kind);
        if (width != 0)
        {
            WriteFixed(value, fixedBuffer);
            return fixedBuffer[..width];
        }

        if (kind is ValueKind.String or ValueKind.Bytes)
        {
            return value.Utf8OrBytes;
        }

        scratch ??= new ArrayBufferWriter<byte>();
        scratch.ResetWrittenCount();
        WriteVariable(value, scratch);
        return scratch.WrittenSpan;
    }

    /// <summary>Writes the key of a text, bytes or list value.</summary>
    public static void WriteVariable(in FeatureValue value, IBufferWriter<byte> output)
    {
        switch (value.Kind)
        {
            case ValueKind.String or ValueKind.Bytes:
                output.Write(value.Utf8OrBytes);
                break;
            default:
                WriteList(value.AsList(), output);
                break;
        }
    }

    private static void WriteList(Array items, IBufferWriter<byte> output)
    {
        StateCodec.WriteVarUInt(output, (ulong)items.Length);
        Span<byte> b = stackalloc byte[8];
        switch (items)
        {
            case bool[] a:
                foreach (var x in a)
                {
                    StateCodec.WriteByte(output, x ? (byte)1 : (byte)0);
                }

                break;
            case int[] a:
                foreach (var x in a)
                {
                    WriteFixed(FeatureValue.FromInt64(x), b);
                    output.Write(b);
                }

                break;
            case long[] a:
                foreach (var x in a)
                {
                    WriteFixed(FeatureValue.FromInt64(x), b);
                    output.Write(b);
                }

                break;
            case float[] a:
                foreach (var x in a)
                {
                    WriteFixed(FeatureValue.FromFloat32(x), b);
                    output.Write(b);
                }

                break;
            case double[] a:
                foreach (var x in a)
                {
                    WriteFixed(FeatureValue.FromFloat64(x), b);
                    output.Write(b);
                }

                break;
            case string[] a:
                foreach (var x in a)
                {
                    StateCodec.WriteBlob(output, Encoding.UTF8.GetBytes(x ?? string.Empty));
                }

                break;
            case byte[][] a:
                foreach (var x in a)
                {
                    StateCodec.WriteBlob(output, x ?? []);
                }

                break;
            default:
                throw new ArgumentException($"cannot aggregate a {items.GetType().Name}");
        }
    }

    /// <summary>Checks that a key read from a tile has a valid shape for <paramref name="kind"/>.</summary>
    public static void Validate(ValueKind kind, ReadOnlySpan<byte> key)
    {
        var width = FixedWidth(kind);
        if (width != 0 && key.Length != width)
        {
            StateCodec.Invalid($"a {kind} key has {key.Length} bytes, not {width}");
        }

        if (kind >= ValueKind.BoolList)
        {
            _ = Decode(kind, key);
        }
    }

    /// <summary>The value of a key.</summary>
    public static FeatureValue Decode(ValueKind kind, ReadOnlySpan<byte> key)
    {
        switch (kind)
        {
            case ValueKind.Bool:
                return FeatureValue.FromBool(key[0] != 0);
            case ValueKind.Int32:
                return FeatureValue.FromInt32((int)Int(key));
            case ValueKind.Int64:
                return FeatureValue.FromInt64(Int(key));
            case ValueKind.Timestamp:
                return FeatureValue.FromTimestampMicros(Int(key));
            case ValueKind.Float32:
                return FeatureValue.FromFloat32((float)FromFloatBits(BinaryPrimitives.ReadUInt64BigEndian(key)));
            case ValueKind.Float64:
                return FeatureValue.FromFloat64(FromFloatBits(BinaryPrimitives.ReadUInt64BigEndian(key)));
            case ValueKind.String:
                return FeatureValue.FromString(Encoding.UTF8.GetString(key));
            case ValueKind.Bytes:
                return FeatureValue.FromBytes(key.ToArray());
            default:
                return DecodeList(kind, key);
        }
    }

    private static long Int(ReadOnlySpan<byte> key) => (long)(BinaryPrimitives.ReadUInt64BigEndian(key) ^ SignBit);

    private static FeatureValue DecodeList(ValueKind kind, ReadOnlySpan<byte> key)
    {
        // A fake tag byte lets the list reuse the bounds-checked reader.
        Span<byte> framed = new byte[key.Length + 1];
        framed[0] = 0xFF;
        key.CopyTo(framed[1..]);
        var r = new StateReader(framed, 0xFF, "list");
        var n = (int)r.ReadCount(r.Remaining, "list length");
        Array items = kind switch
        {
            ValueKind.BoolList => new bool[n],
            ValueKind.Int32List => new int[n],
            ValueKind.Int64List or ValueKind.TimestampList => new long[n],
            ValueKind.Float32List => new float[n],
            ValueKind.Float64List => new double[n],
            ValueKind.StringList => new string[n],
            ValueKind.BytesList => new byte[n][],
            _ => throw new InvalidDataException($"aggregate state: {kind} is not a value kind"),
        };
        for (var i = 0; i < n; i++)
        {
            switch (items)
            {
                case bool[] a:
                    a[i] = r.ReadByte() != 0;
                    break;
                case int[] a:
                    a[i] = (int)Int(r.ReadBytes(8));
                    break;
                case long[] a:
                    a[i] = Int(r.ReadBytes(8));
                    break;
                case float[] a:
                    a[i] = (float)FromFloatBits(BinaryPrimitives.ReadUInt64BigEndian(r.ReadBytes(8)));
                    break;
                case double[] a:
                    a[i] = FromFloatBits(BinaryPrimitives.ReadUInt64BigEndian(r.ReadBytes(8)));
                    break;
                case string[] a:
                    a[i] = Encoding.UTF8.GetString(r.ReadBlob());
                    break;
                case byte[][] a:
                    a[i] = r.ReadBlob().ToArray();
                    break;
            }
        }

        r.ExpectEnd();
        return FeatureValue.FromList(kind, items);
    }

    /// <summary>A list value of <paramref name="itemKind"/> scalars, for last_n.</summary>
    public static FeatureValue ListOf(ValueKind itemKind, ReadOnlySpan<FeatureValue> items)
    {
        var n = items.Length;
        switch (itemKind)
        {
            case ValueKind.Bool:
                var bools = new bool[n];
                for (var i = 0; i < n; i++)
                {
                    bools[i] = items[i].AsBool();
                }

                return FeatureValue.FromList(ValueKind.BoolList, bools);
            case ValueKind.Int32:
                var ints = new int[n];
                for (var i = 0; i < n; i++)
                {
                    ints[i] = items[i].AsInt32();
                }

                return FeatureValue.FromList(ValueKind.Int32List, ints);
            case ValueKind.Int64 or ValueKind.Timestamp:
                var longs = new long[n];
                for (var i = 0; i < n; i++)
                {
                    longs[i] = items[i].AsInt64();
                }

                return FeatureValue.FromList(itemKind == ValueKind.Int64 ? ValueKind.Int64List : ValueKind.TimestampList, longs);
            case ValueKind.Float32:
                var floats = new float[n];
                for (var i = 0; i < n; i++)
                {
                    floats[i] = items[i].AsFloat32();
                }

                return FeatureValue.FromList(ValueKind.Float32List, floats);
            case ValueKind.Float64:
                var doubles = new double[n];
                for (var i = 0; i < n; i++)
                {
                    doubles[i] = items[i].AsFloat64();
                }

                return FeatureValue.FromList(ValueKind.Float64List, doubles);
            case ValueKind.String:
                var strings = new string[n];
                for (var i = 0; i < n; i++)
                {
                    strings[i] = items[i].AsString();
                }

                return FeatureValue.FromList(ValueKind.StringList, strings);
            default:
                var blobs = new byte[n][];
                for (var i = 0; i < n; i++)
                {
                    blobs[i] = items[i].AsBytes();
                }

                return FeatureValue.FromList(ValueKind.BytesList, blobs);
        }
    }
}
