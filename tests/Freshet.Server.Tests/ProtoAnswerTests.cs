using System.Buffers;
using System.Text;
using GetOnlineFeaturesResponse = Freshet.Protos.Serving.GetOnlineFeaturesResponse;
using Freshet.Server.Grpc;
using Freshet.Serving;
using Freshet.Values;
using Google.Protobuf;

namespace Freshet.Server.Tests;

/// <summary>
/// The gRPC online answer written straight from the columns (<see cref="ProtoAnswer"/>) must be the bytes the
/// generated <c>GetOnlineFeaturesResponse</c> serializes to, for every value kind, status and event time.
/// </summary>
public sealed class ProtoAnswerTests
{
    [Fact]
    public void Every_value_kind_is_written_as_the_generated_message_would_write_it()
    {
        FeatureValue[] values =
        [
            FeatureValue.FromBool(true), FeatureValue.FromBool(false),
            FeatureValue.FromInt32(0), FeatureValue.FromInt32(-1), FeatureValue.FromInt32(int.MaxValue), FeatureValue.FromInt32(int.MinValue),
            FeatureValue.FromInt64(0), FeatureValue.FromInt64(-5), FeatureValue.FromInt64(long.MaxValue), FeatureValue.FromInt64(long.MinValue), FeatureValue.FromInt64(300),
            FeatureValue.FromFloat32(0f), FeatureValue.FromFloat32(-1.5f), FeatureValue.FromFloat32(float.NaN),
            FeatureValue.FromFloat64(0d), FeatureValue.FromFloat64(3.25), FeatureValue.FromFloat64(double.NegativeInfinity),
            FeatureValue.FromString(""), FeatureValue.FromString("héllo ✓"), FeatureValue.FromString(new string('x', 300)),
            FeatureValue.FromUtf8Slice(Encoding.UTF8.GetBytes("..slice.."), 2, 5),
            FeatureValue.FromBytes([]), FeatureValue.FromBytes([0, 255, 7]), FeatureValue.FromBytesSlice([1, 2, 3, 4], 1, 2),
            FeatureValue.FromTimestampMicros(0), FeatureValue.FromTimestampMicros(1_767_225_600_123_456), FeatureValue.FromTimestampMicros(-1),
            FeatureValue.Null,
            FeatureValue.FromList(ValueKind.Int64List, new long[] { 1, -2, 3 }),
            FeatureValue.FromList(ValueKind.StringList, new[] { "a", "bc" }),
            FeatureValue.FromList(ValueKind.Float64List, Array.Empty<double>()),
            FeatureValue.FromList(ValueKind.BoolList, new[] { true, false }),
            FeatureValue.FromList(ValueKind.TimestampList, new long[] { 1_000_000, 2_500_000 }),
            FeatureValue.FromList(ValueKind.BytesList, new[] { new byte[] { 1 }, Array.Empty<byte>() }),
        ];
        FieldStatus[] statuses = [FieldStatus.Present, FieldStatus.NullValue, FieldStatus.NotFound, FieldStatus.OutsideMaxAge, FieldStatus.Invalid];
        long[] times = [0, 1, 999_999, 1_000_000, 1_767_225_600_123_456, -1, -1_500_000, 253_402_300_799_999_999];

        var columns = new FeatureColumn[values.Length];
        for (var c = 0; c < values.Length; c++)
        {
            // Each column mixes its own kind with nulls, every status and every kind of event time.
            var column = new FeatureColumn(times.Length);
            for (var r = 0; r < times.Length; r++)
            {
                column.Values[r] = r % 3 == 2 ? FeatureValue.Null : values[c];
                column.Statuses[r] = statuses[(r + c) % statuses.Length];
                column.EventMicros[r] = times[(r + c) % times.Length];
            }

            columns[c] = column;
        }

        var names = Enumerable.Range(0, values.Length).Select(c => c == 1 ? "vïew:feature" : $"view{c % 5}__f{c}").ToList();
        AssertSameBytes(new OnlineResponse(names, columns, 3));
    }

    [Fact]
    public void An_answer_without_rows_or_columns_is_written_as_the_generated_message_would_write_it()
    {
        AssertSameBytes(new OnlineResponse([], [], 1));
        AssertSameBytes(new OnlineResponse(["user_id", "f"], [new FeatureColumn(0), new FeatureColumn(0)], 1));
    }

    [Fact]
    public void A_buffer_writer_with_small_spans_gets_the_same_bytes()
    {
        var column = new FeatureColumn(2000);
        for (var r = 0; r < column.Values.Length; r++)
        {
            column.Values[r] = FeatureValue.FromFloat64(r * 0.5);
            column.Statuses[r] = FieldStatus.Present;
            column.EventMicros[r] = 1_767_225_600_000_000 + r;
        }

        var response = new OnlineResponse(["f"], [column], 1);
        var size = ProtoAnswer.Size(response);
        var writer = new SmallSpanWriter();
        ProtoAnswer.Write(response, size, writer);
        Assert.Equal(ServingServiceImpl.ToProto(response).ToByteArray(), writer.Written.ToArray());
    }

    private static void AssertSameBytes(OnlineResponse response)
    {
        var expected = ServingServiceImpl.ToProto(response).ToByteArray();
        var size = ProtoAnswer.Size(response);
        Assert.Equal(expected.Length, size);
        var output = new ArrayBufferWriter<byte>();
        ProtoAnswer.Write(response, size, output);
        Assert.Equal(expected, output.WrittenSpan.ToArray());
        // And a client reads it back as the same message.
        Assert.Equal(ServingServiceImpl.ToProto(response), GetOnlineFeaturesResponse.Parser.ParseFrom(output.WrittenSpan));
    }

    /// <summary>A writer whose spans are never larger than 1 KB (as a transport's pipe may hand out).</summary>
    private sealed class SmallSpanWriter : IBufferWriter<byte>
    {
        private readonly MemoryStream _stream = new();
        private readonly byte[] _buffer = new byte[1024];

        public ReadOnlySpan<byte> Written => _stream.GetBuffer().AsSpan(0, (int)_stream.Length);

        public void Advance(int count) => _stream.Write(_buffer, 0, count);

        public Memory<byte> GetMemory(int sizeHint = 0) => _buffer;

        public Span<byte> GetSpan(int sizeHint = 0) => _buffer;
    }
}
