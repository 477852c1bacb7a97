using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Freshet.Values;

namespace Freshet.Online;

/// <summary>
/// The stored form of one online row: a format byte, the event and created timestamps (microseconds,
/// little-endian, at fixed offsets so a store can compare rows without decoding them), then each feature as
/// a 32-bit hash of its name, a kind byte and the value. Features are found by name hash, so a row written
/// before a feature was added reads as "not found" for it rather than shifting every value.
/// </summary>
public static class RowCodec
{
    /// <summary>The format byte of rows written by this version.</summary>
    public const byte Format = 1;

    /// <summary>Bytes before the first feature's count.</summary>
    public const int HeaderSize = 17;

    /// <summary>The FNV-1a hash of a feature name, as rows store it.</summary>
    public static uint NameHash(string name)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }

    /// <summary>The event time of a stored row.</summary>
    public static long EventMicros(ReadOnlySpan<byte> row) => BinaryPrimitives.ReadInt64LittleEndian(row[1..]);

    /// <summary>The created time of a stored row.</summary>
    public static long CreatedMicros(ReadOnlySpan<byte> row) => BinaryPrimitives.ReadInt64LittleEndian(row[9..]);

    /// <summary>
    /// True when <paramref name="candidate"/> may replace <paramref name="stored"/>: its (event, created) is not
    /// older. Equal timestamps replace, so a re-materialization of the same row is idempotent.
    /// </summary>
    public static bool Supersedes(ReadOnlySpan<byte> candidate, ReadOnlySpan<byte> stored)
    {
        var e1 = EventMicros(candidate);
        var e2 = EventMicros(stored);
        return e1 > e2 || (e1 == e2 && CreatedMicros(candidate) >= CreatedMicros(stored));
    }

    /// <summary>Encodes a row.</summary>
    public static void Write(IBufferWriter<byte> writer, long eventMicros, long createdMicros, ReadOnlySpan<uint> nameHashes, ReadOnlySpan<FeatureValue> values)
    {
        if (nameHashes.Length != values.Length)
        {
            throw new ArgumentException("one name hash per value", nameof(values));
        }

        var head = writer.GetSpan(HeaderSize + 5);
        head[0] = Format;
        BinaryPrimitives.WriteInt64LittleEndian(head[1..], eventMicros);
        BinaryPrimitives.WriteInt64LittleEndian(head[9..], createdMicros);
        var n = HeaderSize + Varint.Write(head[HeaderSize..], (uint)values.Length);
        writer.Advance(n);
        for (var i = 0; i < values.Length; i++)
        {
            var span = writer.GetSpan(5);
            BinaryPrimitives.WriteUInt32LittleEndian(span, nameHashes[i]);
            span[4] = (byte)values[i].Kind;
            writer.Advance(5);
            WriteValue(writer, values[i]);
        }
    }

    /// <summary>Encodes a row as a new array.</summary>
    public static byte[] Write(long eventMicros, long createdMicros, ReadOnlySpan<uint> nameHashes, ReadOnlySpan<FeatureValue> values)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        Write(buffer, eventMicros, createdMicros, nameHashes, values);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes the features named by <paramref name="wanted"/> (name hashes) from <paramref name="row"/> into
    /// <paramref name="values"/>; <paramref name="found"/> says which the row holds. Strings and bytes point
    /// into <paramref name="row"/> (no copy); only lists allocate.
    /// </summary>
    public static void Read(byte[] row, ReadOnlySpan<uint> wanted, Span<FeatureValue> values, Span<bool> found)
    {
        if (row.Length < HeaderSize + 1 || row[0] != Format)
        {
            throw new FormatException($"not a Freshet row (format byte {(row.Length > 0 ? row[0] : -1)})");
        }

        values[..wanted.Length].Clear();
        found[..wanted.Length].Clear();
        var span = row.AsSpan();
        var pos = HeaderSize + Varint.Read(span[HeaderSize..], out var count);
        for (var f = 0; f < count; f++)
        {
            var hash = BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]);
            var kind = (ValueKind)span[pos + 4];
            pos += 5;
            var index = wanted.IndexOf(hash);
            if (index < 0)
            {
                pos += SkipValue(span[pos..], kind);
                continue;
            }

            pos += ReadValue(row, pos, kind, out values[index]);
            found[index] = true;

            // A feature may be asked for twice (two output names); fill every slot.
            for (var j = index + 1; j < wanted.Length; j++)
            {
                if (wanted[j] == hash)
                {
                    values[j] = values[index];
                    found[j] = true;
                }
            }
        }
    }

    private static void WriteValue(IBufferWriter<byte> w, FeatureValue v)
    {
        switch (v.Kind)
        {
            case ValueKind.Null:
                return;
            case ValueKind.Bool:
                w.GetSpan(1)[0] = v.AsBool() ? (byte)1 : (byte)0;
                w.Advance(1);
                return;
            case ValueKind.Int32:
            case ValueKind.Float32:
                BinaryPrimitives.WriteInt32LittleEndian(w.GetSpan(4), (int)v.AsInt64());
                w.Advance(4);
                return;
            case ValueKind.Int64:
            case ValueKind.Float64:
            case ValueKind.Timestamp:
                BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), v.AsInt64());
                w.Advance(8);
                return;
            case ValueKind.String:
            case ValueKind.Bytes:
                WriteBlob(w, v.Utf8OrBytes);
                return;
            default:
                WriteList(w, v.AsList());
                return;
        }
    }

    private static void WriteBlob(IBufferWriter<byte> w, ReadOnlySpan<byte> bytes)
    {
        var span = w.GetSpan(5 + bytes.Length);
        var n = Varint.Write(span, (uint)bytes.Length);
        bytes.CopyTo(span[n..]);
        w.Advance(n + bytes.Length);
    }

    private static void WriteList(IBufferWriter<byte> w, Array items)
    {
        var head = w.GetSpan(5);
        w.Advance(Varint.Write(head, (uint)items.Length));
        switch (items)
        {
            case bool[] a:
                foreach (var x in a)
                {
                    w.GetSpan(1)[0] = x ? (byte)1 : (byte)0;
                    w.Advance(1);
                }

                break;
            case int[] a:
                foreach (var x in a)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(w.GetSpan(4), x);
                    w.Advance(4);
                }

                break;
            case float[] a:
                foreach (var x in a)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(w.GetSpan(4), x);
                    w.Advance(4);
                }

                break;
            case long[] a:
                foreach (var x in a)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), x);
                    w.Advance(8);
                }

                break;
            case double[] a:
                foreach (var x in a)
                {
                    BinaryPrimitives.WriteDoubleLittleEndian(w.GetSpan(8), x);
                    w.Advance(8);
                }

                break;
            case string[] a:
                foreach (var x in a)
                {
                    WriteBlob(w, Encoding.UTF8.GetBytes(x ?? ""));
                }

                break;
            case byte[][] a:
                foreach (var x in a)
                {
                    WriteBlob(w, x ?? []);
                }

                break;
            default:
                throw new ArgumentException($"cannot store a list of {items.GetType().Name}");
        }
    }

    private static int ReadValue(byte[] row, int pos, ValueKind kind, out FeatureValue value)
    {
        var span = row.AsSpan(pos);
        switch (kind)
        {
            case ValueKind.Null:
                value = FeatureValue.Null;
                return 0;
            case ValueKind.Bool:
                value = FeatureValue.FromBool(span[0] != 0);
                return 1;
            case ValueKind.Int32:
                value = FeatureValue.FromInt32(BinaryPrimitives.ReadInt32LittleEndian(span));
                return 4;
            case ValueKind.Float32:
                value = FeatureValue.FromFloat32(BinaryPrimitives.ReadSingleLittleEndian(span));
                return 4;
            case ValueKind.Int64:
                value = FeatureValue.FromInt64(BinaryPrimitives.ReadInt64LittleEndian(span));
                return 8;
            case ValueKind.Float64:
                value = FeatureValue.FromFloat64(BinaryPrimitives.ReadDoubleLittleEndian(span));
                return 8;
            case ValueKind.Timestamp:
                value = FeatureValue.FromTimestampMicros(BinaryPrimitives.ReadInt64LittleEndian(span));
                return 8;
            case ValueKind.String:
            case ValueKind.Bytes:
                var n = Varint.Read(span, out var length);
                value = kind == ValueKind.String
                    ? FeatureValue.FromUtf8Slice(row, pos + n, (int)length)
                    : FeatureValue.FromBytesSlice(row, pos + n, (int)length);
                return n + (int)length;
            default:
                return ReadList(span, kind, out value);
        }
    }

    private static int ReadList(ReadOnlySpan<byte> span, ValueKind kind, out FeatureValue value)
    {
        var pos = Varint.Read(span, out var count);
        var n = (int)count;
        Array items;
        switch (kind)
        {
            case ValueKind.BoolList:
                var b = new bool[n];
                for (var i = 0; i < n; i++)
                {
                    b[i] = span[pos++] != 0;
                }

                items = b;
                break;
            case ValueKind.Int32List:
                var i32 = new int[n];
                for (var i = 0; i < n; i++, pos += 4)
                {
                    i32[i] = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
                }

                items = i32;
                break;
            case ValueKind.Float32List:
                var f32 = new float[n];
                for (var i = 0; i < n; i++, pos += 4)
                {
                    f32[i] = BinaryPrimitives.ReadSingleLittleEndian(span[pos..]);
                }

                items = f32;
                break;
            case ValueKind.Int64List or ValueKind.TimestampList:
                var i64 = new long[n];
                for (var i = 0; i < n; i++, pos += 8)
                {
                    i64[i] = BinaryPrimitives.ReadInt64LittleEndian(span[pos..]);
                }

                items = i64;
                break;
            case ValueKind.Float64List:
                var f64 = new double[n];
                for (var i = 0; i < n; i++, pos += 8)
                {
                    f64[i] = BinaryPrimitives.ReadDoubleLittleEndian(span[pos..]);
                }

                items = f64;
                break;
            case ValueKind.StringList:
                var s = new string[n];
                for (var i = 0; i < n; i++)
                {
                    pos += Varint.Read(span[pos..], out var len);
                    s[i] = Encoding.UTF8.GetString(span.Slice(pos, (int)len));
                    pos += (int)len;
                }

                items = s;
                break;
            case ValueKind.BytesList:
                var bl = new byte[n][];
                for (var i = 0; i < n; i++)
                {
                    pos += Varint.Read(span[pos..], out var len);
                    bl[i] = span.Slice(pos, (int)len).ToArray();
                    pos += (int)len;
                }

                items = bl;
                break;
            default:
                throw new FormatException($"bad value kind {(byte)kind} in row");
        }

        value = FeatureValue.FromList(kind, items);
        return pos;
    }

    private static int SkipValue(ReadOnlySpan<byte> span, ValueKind kind)
    {
        switch (kind)
        {
            case ValueKind.Null:
                return 0;
            case ValueKind.Bool:
                return 1;
            case ValueKind.Int32 or ValueKind.Float32:
                return 4;
            case ValueKind.Int64 or ValueKind.Float64 or ValueKind.Timestamp:
                return 8;
            case ValueKind.String or ValueKind.Bytes:
                var n = Varint.Read(span, out var length);
                return n + (int)length;
            default:
                var pos = Varint.Read(span, out var count);
                var width = kind switch
                {
                    ValueKind.BoolList => 1,
                    ValueKind.Int32List or ValueKind.Float32List => 4,
                    ValueKind.Int64List or ValueKind.Float64List or ValueKind.TimestampList => 8,
                    _ => 0,
                };
                if (width > 0)
                {
                    return pos + (width * (int)count);
                }

                for (var i = 0; i < count; i++)
                {
                    pos += Varint.Read(span[pos..], out var len);
                    pos += (int)len;
                }

                return pos;
        }
    }
}
