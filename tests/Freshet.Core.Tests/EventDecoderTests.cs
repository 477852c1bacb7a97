using System.Text;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Core.Tests;

public sealed class EventDecoderTests
{
    private static readonly KafkaSource Transactions = new("transactions", "localhost:9092", "txns")
    {
        Schema =
        [
            new Field("account_id", FeatureType.Of(ScalarKind.String)),
            new Field("amount", FeatureType.Of(ScalarKind.Float64)),
            new Field("count", FeatureType.Of(ScalarKind.Int32)),
            new Field("flagged", FeatureType.Of(ScalarKind.Bool)),
            new Field("tags", FeatureType.ListOf(ScalarKind.String)),
            new Field("embedding", FeatureType.VectorOf(3)),
            new Field("raw", FeatureType.Of(ScalarKind.Bytes)),
            new Field("seen_at", FeatureType.Of(ScalarKind.Timestamp)),
        ],
        TimestampField = "event_time",
    };

    private static readonly EventDecoder Decoder = new(Transactions, ["account_id"]);

    private static DecodeResult Decode(string json, out FeatureValue[]? row, EventDecoder? decoder = null) =>
        (decoder ?? Decoder).Decode(Encoding.UTF8.GetBytes(json), null, out row);

    private static void AssertError(string code, string json)
    {
        var result = Decode(json, out var row);
        Assert.False(result.IsSuccess, $"expected {code} for {json}");
        Assert.Equal(code, result.Error!.Code);
        Assert.Null(row);
    }

    [Fact]
    public void Decodes_every_field_in_schema_order_with_the_event_time_in_micros()
    {
        var result = Decode("""
            {"account_id":"a1","amount":12,"count":3,"flagged":true,"tags":["x","y"],"embedding":[1,0.5,-2],
             "raw":"AQID","seen_at":"2026-01-01T00:00:01Z","event_time":"2026-01-01T01:00:00.123456+01:00","ignored":{"deep":[1,2]}}
            """, out var row);

        Assert.True(result.IsSuccess, result.Error?.Reason);
        Assert.Equal(Micros.From(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)) + 123456, result.EventTimeMicros);
        Assert.Equal("a1", row![0].AsString());
        Assert.Equal(ValueKind.Float64, row[1].Kind);
        Assert.Equal(12.0, row[1].AsFloat64());
        Assert.Equal(ValueKind.Int32, row[2].Kind);
        Assert.Equal(3, row[2].AsInt32());
        Assert.True(row[3].AsBool());
        Assert.Equal(["x", "y"], (string[])row[4].AsList());
        Assert.Equal([1f, 0.5f, -2f], (float[])row[5].AsList());
        Assert.Equal([1, 2, 3], row[6].AsBytes());
        Assert.Equal(Micros.From(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero)), row[7].TimestampMicros);
    }

    [Theory]
    [InlineData("1767225600", 1767225600_000000L)]
    [InlineData("1767225600.5", 1767225600_500000L)]
    [InlineData("1767225600.0000019", 1767225600_000001L)]
    [InlineData("\"2026-01-01T00:00:00Z\"", 1767225600_000000L)]
    [InlineData("\"2026-01-01T00:00:00\"", 1767225600_000000L)]
    public void Event_time_is_rfc3339_or_epoch_seconds(string value, long micros)
    {
        var result = Decode($$"""{"account_id":"a","event_time":{{value}}}""", out _);
        Assert.True(result.IsSuccess, result.Error?.Reason);
        Assert.Equal(micros, result.EventTimeMicros);
    }

    [Fact]
    public void Missing_optional_fields_are_null()
    {
        var result = Decode("""{"account_id":"a","amount":null,"event_time":0}""", out var row);
        Assert.True(result.IsSuccess);
        Assert.All(row!.Skip(1), v => Assert.True(v.IsNull));
    }

    [Theory]
    [InlineData("""{"amount":1,"event_time":0}""")]
    [InlineData("""{"account_id":null,"event_time":0}""")]
    [InlineData("""{"account_id":"a"}""")]
    [InlineData("""{"account_id":"a","event_time":null}""")]
    public void Missing_join_key_or_event_time_is_missing_field(string json) => AssertError(DecodeErrorCodes.MissingField, json);

    [Theory]
    [InlineData("""{"account_id":1,"event_time":0}""")]
    [InlineData("""{"account_id":"a","amount":"12","event_time":0}""")]
    [InlineData("""{"account_id":"a","count":1.5,"event_time":0}""")]
    [InlineData("""{"account_id":"a","count":3000000000,"event_time":0}""")]
    [InlineData("""{"account_id":"a","flagged":1,"event_time":0}""")]
    [InlineData("""{"account_id":"a","tags":"x","event_time":0}""")]
    [InlineData("""{"account_id":"a","tags":[null],"event_time":0}""")]
    [InlineData("""{"account_id":"a","embedding":[1,2],"event_time":0}""")]
    [InlineData("""{"account_id":"a","raw":"not base64!","event_time":0}""")]
    [InlineData("""{"account_id":"a","amount":{"v":1},"event_time":0}""")]
    [InlineData("""{"account_id":"a","amount":1e400,"event_time":0}""")]
    [InlineData("""{"account_id":"a","seen_at":"yesterday","event_time":0}""")]
    public void A_value_of_the_wrong_type_is_wrong_type(string json) => AssertError(DecodeErrorCodes.WrongType, json);

    [Theory]
    [InlineData("""{"account_id":"a","event_time":"yesterday"}""")]
    [InlineData("""{"account_id":"a","event_time":true}""")]
    [InlineData("""{"account_id":"a","event_time":1e300}""")]
    [InlineData("""{"account_id":"a","event_time":-1e15}""")]
    [InlineData("""{"account_id":"a","event_time":[1]}""")]
    public void An_unreadable_event_time_is_bad_timestamp(string json) => AssertError(DecodeErrorCodes.BadTimestamp, json);

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("{")]
    [InlineData("""{"account_id":"a","event_time":0} {}""")]
    [InlineData("""{"account_id":"a","account_id":"b","event_time":0}""")]
    [InlineData("""{"account_id":"a","event_time":0,"event_time":1}""")]
    [InlineData("""{"account_id":"a",}""")]
    public void Anything_but_one_json_object_is_bad_json(string json) => AssertError(DecodeErrorCodes.BadJson, json);

    [Fact]
    public void Nesting_deeper_than_the_limit_is_bad_json()
    {
        var ok = $$"""{"account_id":"a","event_time":0,"x":{{new string('[', 30)}}{{new string(']', 30)}}}""";
        Assert.True(Decode(ok, out _).IsSuccess);
        var deep = $$"""{"account_id":"a","event_time":0,"x":{{new string('[', 40)}}{{new string(']', 40)}}}""";
        AssertError(DecodeErrorCodes.BadJson, deep);
    }

    [Fact]
    public void A_message_over_the_size_limit_is_too_large()
    {
        var decoder = new EventDecoder(Transactions, ["account_id"], new EventDecoderOptions { MaxMessageBytes = 64 });
        var json = $$"""{"account_id":"{{new string('a', 100)}}","event_time":0}""";
        var result = decoder.Decode(Encoding.UTF8.GetBytes(json), null, out _);
        Assert.Equal(DecodeErrorCodes.TooLarge, result.Error?.Code);
        Assert.Equal(DecodeErrorCodes.TooLarge, Decode(new string(' ', (1 << 20) + 1), out _).Error?.Code);
    }

    [Fact]
    public void Invalid_utf8_is_bad_json()
    {
        byte[] message = [.. "{\"account_id\":\""u8, 0xC3, 0x28, .. "\",\"event_time\":0}"u8];
        Assert.Equal(DecodeErrorCodes.BadJson, Decoder.Decode(message, null, out _).Error?.Code);
    }

    [Fact]
    public void Without_a_timestamp_field_the_fallback_time_is_used()
    {
        var decoder = new EventDecoder(Transactions with { TimestampField = null });
        var message = Encoding.UTF8.GetBytes("""{"account_id":"a"}""");
        Assert.Equal(42, decoder.Decode(message, 42, out _).EventTimeMicros);
        Assert.Equal(DecodeErrorCodes.MissingField, decoder.Decode(message, null, out _).Error?.Code);
    }

    [Fact]
    public void Hostile_input_gives_an_error_result_never_an_exception()
    {
        var random = new Random(20261129);
        var fragments = new[] { "{", "}", "[", "]", "\"", ":", ",", "\"account_id\"", "\"event_time\"", "\"amount\"", "\"tags\"", "1e999", "-0", "null", "true", "\\u0000", "\\ud800", "9223372036854775808", "1.7976931348623157e309", " ", "\"a\"" };
        var buffer = new byte[256];
        for (var i = 0; i < 20_000; i++)
        {
            byte[] message;
            if (i % 2 == 0)
            {
                var length = random.Next(buffer.Length);
                random.NextBytes(buffer.AsSpan(0, length));
                message = buffer[..length];
            }
            else
            {
                var text = new StringBuilder();
                for (var n = random.Next(1, 40); n > 0; n--)
                {
                    text.Append(fragments[random.Next(fragments.Length)]);
                }

                message = Encoding.UTF8.GetBytes(text.ToString());
            }

            var result = Decoder.Decode(message, null, out var row);
            Assert.True(result.IsSuccess == (row is not null));
            if (!result.IsSuccess)
            {
                Assert.Contains(result.Error!.Code, new[] { DecodeErrorCodes.BadJson, DecodeErrorCodes.MissingField, DecodeErrorCodes.WrongType, DecodeErrorCodes.BadTimestamp });
            }
        }
    }

    [Fact]
    public void A_required_field_outside_the_schema_is_a_definition_error() =>
        Assert.Throws<ArgumentException>(() => new EventDecoder(Transactions, ["merchant_id"]));
}
