using Freshet.Online;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>The byte encodings every online store shares: entity keys, rows, varints.</summary>
public sealed class OnlineCodecTests
{
    [Fact]
    public void An_entity_key_of_every_join_key_kind_decodes_to_the_same_values()
    {
        FeatureValue[] key = [FeatureValue.FromInt32(-7), FeatureValue.FromInt64(long.MaxValue), FeatureValue.FromString("z\u00fcrich"), FeatureValue.FromBytes([0, 255, 1])];

        var decoded = EntityKeyCodec.Decode(EntityKeyCodec.Encode(key));

        Assert.Equal(key, decoded);
    }

    [Fact]
    public void The_same_number_as_int32_and_as_int64_makes_different_keys()
    {
        var asInt32 = EntityKeyCodec.Encode([FeatureValue.FromInt32(1001)]);
        var asInt64 = EntityKeyCodec.Encode([FeatureValue.FromInt64(1001)]);

        Assert.NotEqual(asInt32, asInt64);
        Assert.Equal(EntityKeyCodec.Encode([FeatureValue.FromInt64(1001)]), asInt64);
    }

    [Fact]
    public void Integer_keys_sort_in_numeric_order_as_bytes()
    {
        long[] numbers = [long.MinValue, -1_000_000, -1, 0, 1, 255, 256, 1_000_000, long.MaxValue];

        var encoded = numbers.Select(n => EntityKeyCodec.Encode([FeatureValue.FromInt64(n)])).ToList();

        for (var i = 1; i < encoded.Count; i++)
        {
            Assert.True(encoded[i - 1].AsSpan().SequenceCompareTo(encoded[i]) < 0, $"{numbers[i - 1]} does not sort before {numbers[i]}");
        }
    }

    [Fact]
    public void A_join_key_that_is_not_an_integer_string_or_bytes_is_refused()
    {
        Assert.Throws<ArgumentException>(() => EntityKeyCodec.Encode([FeatureValue.FromFloat64(1.5)]));
    }

    [Fact]
    public void A_row_reads_back_every_value_kind_by_feature_name()
    {
        string[] names = ["null", "bool", "i32", "i64", "f32", "f64", "str", "bytes", "ts", "i64s", "f64s", "strs", "blobs", "bools"];
        FeatureValue[] values =
        [
            FeatureValue.Null, FeatureValue.FromBool(true), FeatureValue.FromInt32(-5), FeatureValue.FromInt64(1L << 40),
            FeatureValue.FromFloat32(0.25f), FeatureValue.FromFloat64(-1e300), FeatureValue.FromString("caf\u00e9"),
            FeatureValue.FromBytes([1, 2, 3]), FeatureValue.FromTimestampMicros(1_764_000_000_000_000),
            FeatureValue.FromList(ValueKind.Int64List, new long[] { 1, -2, 3 }), FeatureValue.FromList(ValueKind.Float64List, new[] { 0.5, 1.5 }),
            FeatureValue.FromList(ValueKind.StringList, new[] { "a", "", "b" }), FeatureValue.FromList(ValueKind.BytesList, new byte[][] { [9], [] }),
            FeatureValue.FromList(ValueKind.BoolList, new[] { true, false }),
        ];
        var hashes = names.Select(RowCodec.NameHash).ToArray();

        var row = RowCodec.Write(111, 222, hashes, values);

        // Asked in another order, with one feature twice and one the row never had.
        uint[] wanted = [hashes[6], RowCodec.NameHash("absent"), .. hashes, hashes[3]];
        var read = new FeatureValue[wanted.Length];
        var found = new bool[wanted.Length];
        RowCodec.Read(row, wanted, read, found);

        Assert.Equal(111, RowCodec.EventMicros(row));
        Assert.Equal(222, RowCodec.CreatedMicros(row));
        Assert.Equal(values[6], read[0]);
        Assert.False(found[1]);
        Assert.Equal(values, read[2..(2 + values.Length)]);
        Assert.Equal(values[3], read[^1]);
        Assert.All(found.Where((_, i) => i != 1), Assert.True);
    }

    [Theory]
    [InlineData(2, 0, 1, 9, true)]
    [InlineData(1, 9, 2, 0, false)]
    [InlineData(5, 6, 5, 5, true)]
    [InlineData(5, 4, 5, 5, false)]
    [InlineData(5, 5, 5, 5, true)]
    public void A_row_supersedes_another_unless_its_event_then_created_time_is_older(long event1, long created1, long event2, long created2, bool supersedes)
    {
        var candidate = RowCodec.Write(event1, created1, [], []);
        var stored = RowCodec.Write(event2, created2, [], []);

        Assert.Equal(supersedes, RowCodec.Supersedes(candidate, stored));
    }

    [Theory]
    [InlineData(0u, 1)]
    [InlineData(127u, 1)]
    [InlineData(128u, 2)]
    [InlineData(16_383u, 2)]
    [InlineData(16_384u, 3)]
    [InlineData(uint.MaxValue, 5)]
    public void A_varint_reads_back_with_the_length_it_was_written_with(uint value, int length)
    {
        var buffer = new byte[5];

        Assert.Equal(length, Varint.Write(buffer, value));
        Assert.Equal(length, Varint.Read(buffer, out var read));
        Assert.Equal(value, read);
    }
}
