using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Freshet.Serving;
using Freshet.Values;
using Google.Protobuf;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Grpc;

/// <summary>
/// Feast's <c>GetOnlineFeaturesResponse</c> written straight from an <see cref="OnlineResponse"/> in protobuf's wire
/// format, byte for byte what the generated message would serialize to (tests compare the two).
/// </summary>
/// <remarks>
/// Why not the generated classes: a 100 x 50 answer is 5,000 <c>Value</c> and 5,000 <c>Timestamp</c> objects
/// (about 800 KB per call) that live until Kestrel has sent the last byte, so they reach generation 1, and the
/// serializer walks them twice (sizes, then bytes). Here a size pass over the columns (no allocation) is followed
/// by one write pass into the transport's buffer. List values, rare in answers, still go through the generated
/// <see cref="ProtoValue"/>.
/// </remarks>
internal static class ProtoAnswer
{
    // Field tags (field number << 3 | wire type): 0 = varint, 1 = 64-bit, 2 = length-delimited, 5 = 32-bit.
    private const byte MetadataTag = (1 << 3) | 2;
    private const byte ResultsTag = (2 << 3) | 2;
    private const byte StatusTag = (3 << 3) | 0;
    private const byte FeatureNamesTag = (1 << 3) | 2;
    private const byte ValTag = (1 << 3) | 2;
    private const byte ValuesTag = (1 << 3) | 2;
    private const byte StatusesTag = (2 << 3) | 2;
    private const byte EventTimestampsTag = (3 << 3) | 2;
    private const byte SecondsTag = (1 << 3) | 0;
    private const byte NanosTag = (2 << 3) | 0;
    private const byte BytesValTag = (1 << 3) | 2;
    private const byte StringValTag = (2 << 3) | 2;
    private const byte Int32ValTag = (3 << 3) | 0;
    private const byte Int64ValTag = (4 << 3) | 0;
    private const byte DoubleValTag = (5 << 3) | 1;
    private const byte FloatValTag = (6 << 3) | 5;
    private const byte BoolValTag = (7 << 3) | 0;
    private const byte UnixTimestampValTag = (8 << 3) | 0;

    /// <summary>The serialized size of the answer, in bytes.</summary>
    public static int Size(OnlineResponse response)
    {
        var metadata = FeatureNamesSize(response.FeatureNames);
        long size = 1 + VarintSize((uint)metadata) + metadata;
        foreach (var column in response.Columns)
        {
            var vector = VectorSize(column);
            size += 1 + VarintSize((ulong)vector) + vector;
        }

        size += 2; // status = true
        return size <= int.MaxValue ? (int)size : throw new InvalidOperationException($"the answer would be {size} bytes, over protobuf's 2 GB limit");
    }

    /// <summary>Writes the answer into <paramref name="output"/>, which must hold exactly <see cref="Size"/> bytes.</summary>
    public static void Write(OnlineResponse response, Span<byte> output)
    {
        var w = new SpanWriter(output);
        w.Tag(MetadataTag);
        w.Varint((uint)FeatureNamesSize(response.FeatureNames));
        var names = ListSize(response.FeatureNames);
        w.Tag(FeatureNamesTag);
        w.Varint((uint)names);
        foreach (var name in response.FeatureNames)
        {
            w.Tag(ValTag);
            w.String(name);
        }

        foreach (var column in response.Columns)
        {
            w.Tag(ResultsTag);
            w.Varint((ulong)VectorSize(column));
            WriteVector(ref w, column);
        }

        w.Tag(StatusTag);
        w.Tag(1);
        if (w.Position != output.Length)
        {
            throw new InvalidOperationException($"answer written as {w.Position} bytes, sized as {output.Length}");
        }
    }

    /// <summary>Writes the answer into <paramref name="writer"/> (in one piece when it offers a large enough span).</summary>
    public static void Write(OnlineResponse response, int size, IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(size);
        if (span.Length >= size)
        {
            Write(response, span[..size]);
            writer.Advance(size);
            return;
        }

        var rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            Write(response, rented.AsSpan(0, size));
            writer.Write(rented.AsSpan(0, size));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static long FeatureNamesSize(IReadOnlyList<string> names)
    {
        var list = ListSize(names);
        return 1 + VarintSize((ulong)list) + list;
    }

    private static long ListSize(IReadOnlyList<string> names)
    {
        long size = 0;
        foreach (var name in names)
        {
            var bytes = Encoding.UTF8.GetByteCount(name);
            size += 1 + VarintSize((uint)bytes) + bytes;
        }

        return size;
    }

    private static long VectorSize(FeatureColumn column)
    {
        long size = 0;
        long statuses = 0;
        for (var r = 0; r < column.Values.Length; r++)
        {
            var value = ValueSize(column.Values[r]);
            size += 1 + VarintSize((ulong)value) + value;
            statuses += VarintSize((ulong)(long)(int)column.Statuses[r]);
            var timestamp = TimestampSize(column.EventMicros[r]);
            size += 1 + VarintSize((uint)timestamp) + timestamp;
        }

        // Repeated enums are packed: one tag, one length, then the numbers (nothing at all when there are none).
        return size + (column.Values.Length == 0 ? 0 : 1 + VarintSize((ulong)statuses) + statuses);
    }

    private static void WriteVector(ref SpanWriter w, FeatureColumn column)
    {
        for (var r = 0; r < column.Values.Length; r++)
        {
            w.Tag(ValuesTag);
            WriteValue(ref w, column.Values[r]);
        }

        if (column.Values.Length > 0)
        {
            long statuses = 0;
            foreach (var status in column.Statuses)
            {
                statuses += VarintSize((ulong)(long)(int)status);
            }

            w.Tag(StatusesTag);
            w.Varint((ulong)statuses);
            foreach (var status in column.Statuses)
            {
                w.Varint((ulong)(long)(int)status);
            }
        }

        foreach (var micros in column.EventMicros)
        {
            w.Tag(EventTimestampsTag);
            var (seconds, nanos) = SecondsAndNanos(micros);
            w.Varint((uint)TimestampSize(micros));
            if (seconds != 0)
            {
                w.Tag(SecondsTag);
                w.Varint((ulong)seconds);
            }

            if (nanos != 0)
            {
                w.Tag(NanosTag);
                w.Varint((ulong)nanos);
            }
        }
    }

    // The event time as google.protobuf.Timestamp: seconds rounded down, nanos from 0 to 999,999,999; none is 0.
    private static (long Seconds, int Nanos) SecondsAndNanos(long micros)
    {
        var seconds = Math.DivRem(micros, 1_000_000, out var rem);
        if (rem < 0)
        {
            seconds--;
            rem += 1_000_000;
        }

        return (seconds, (int)rem * 1_000);
    }

    private static int TimestampSize(long micros)
    {
        var (seconds, nanos) = SecondsAndNanos(micros);
        return (seconds == 0 ? 0 : 1 + VarintSize((ulong)seconds)) + (nanos == 0 ? 0 : 1 + VarintSize((ulong)nanos));
    }

    // The size of the Value message's body. A oneof member is written even when it holds its default value.
    private static int ValueSize(in FeatureValue v) => v.Kind switch
    {
        ValueKind.Bool => 2,
        ValueKind.Int32 => 1 + VarintSize((ulong)(long)v.AsInt32()),
        ValueKind.Int64 => 1 + VarintSize((ulong)v.AsInt64()),
        ValueKind.Float32 => 1 + 4,
        ValueKind.Float64 => 1 + 8,
        ValueKind.Timestamp => 1 + VarintSize((ulong)SecondsOf(v.TimestampMicros)),
        ValueKind.String or ValueKind.Bytes => LengthDelimitedSize(v.Utf8OrBytes.Length),
        ValueKind.Null => 3, // null_val = NULL: field 19 (a two-byte tag) and the number 0
        _ => ServingServiceImpl.ToProto(v).CalculateSize(),
    };

    private static void WriteValue(ref SpanWriter w, in FeatureValue v)
    {
        w.Varint((uint)ValueSize(v));
        switch (v.Kind)
        {
            case ValueKind.Bool:
                w.Tag(BoolValTag);
                w.Tag(v.AsBool() ? (byte)1 : (byte)0);
                break;
            case ValueKind.Int32:
                w.Tag(Int32ValTag);
                w.Varint((ulong)(long)v.AsInt32());
                break;
            case ValueKind.Int64:
                w.Tag(Int64ValTag);
                w.Varint((ulong)v.AsInt64());
                break;
            case ValueKind.Float32:
                w.Tag(FloatValTag);
                w.Fixed32(BitConverter.SingleToUInt32Bits(v.AsFloat32()));
                break;
            case ValueKind.Float64:
                w.Tag(DoubleValTag);
                w.Fixed64(BitConverter.DoubleToUInt64Bits(v.AsFloat64()));
                break;
            case ValueKind.Timestamp:
                w.Tag(UnixTimestampValTag);
                w.Varint((ulong)SecondsOf(v.TimestampMicros));
                break;
            case ValueKind.String:
                w.Tag(StringValTag);
                w.Bytes(v.Utf8OrBytes);
                break;
            case ValueKind.Bytes:
                w.Tag(BytesValTag);
                w.Bytes(v.Utf8OrBytes);
                break;
            case ValueKind.Null:
                w.Tag(19 << 3 & 0x7F | 0x80);
                w.Tag(19 << 3 >> 7);
                w.Tag(0);
                break;
            default:
                w.Message(ServingServiceImpl.ToProto(v));
                break;
        }
    }

    /// <summary>Feast's <c>unix_timestamp_val</c>: whole seconds, rounded down.</summary>
    internal static long SecondsOf(long micros) => SecondsAndNanos(micros).Seconds;

    private static int LengthDelimitedSize(int length) => 1 + VarintSize((uint)length) + length;

    private static int VarintSize(ulong value) => CodedOutputStream.ComputeRawVarint64Size(value);

    /// <summary>Protobuf's primitives over a span that was sized for them.</summary>
    private ref struct SpanWriter(Span<byte> output)
    {
        private readonly Span<byte> _output = output;

        public int Position { get; private set; }

        public void Tag(byte value) => _output[Position++] = value;

        public void Tag(int value) => _output[Position++] = (byte)value;

        public void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                _output[Position++] = (byte)(value | 0x80);
                value >>= 7;
            }

            _output[Position++] = (byte)value;
        }

        public void Fixed32(uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_output[Position..], value);
            Position += 4;
        }

        public void Fixed64(ulong value)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_output[Position..], value);
            Position += 8;
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            Varint((uint)bytes.Length);
            bytes.CopyTo(_output[Position..]);
            Position += bytes.Length;
        }

        public void String(string text)
        {
            var length = Encoding.UTF8.GetByteCount(text);
            Varint((uint)length);
            Position += Encoding.UTF8.GetBytes(text, _output[Position..]);
        }

        public void Message(IMessage message)
        {
            var size = message.CalculateSize();
            message.WriteTo(_output.Slice(Position, size));
            Position += size;
        }
    }
}
