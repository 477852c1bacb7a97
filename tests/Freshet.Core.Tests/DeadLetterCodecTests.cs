using System.Buffers.Binary;
using Freshet.Ingestion;

namespace Freshet.Core.Tests;

/// <summary>The stored form of a dead letter and the id prefixes that page through them; no store involved.</summary>
public sealed class DeadLetterCodecTests
{
    private static readonly DeadLetter Full = new(
        0, "kafka:payments", "event time 2026-11-28T00:00:00Z is before the retained tiles", DeadLetterCodes.TooLate,
        new DateTimeOffset(2026, 11, 29, 6, 0, 0, 123, TimeSpan.Zero).AddTicks(4), [0xFF, 0x00, 0xC3, 0x28], "spend_1h", "7", long.MaxValue);

    [Fact]
    public void Every_field_round_trips_and_the_id_comes_from_the_key()
    {
        var decoded = DeadLetterCodec.Decode(42, DeadLetterCodec.Encode(Full));

        Assert.Equal(42, decoded.Id);
        Assert.Equal(Full.Source, decoded.Source);
        Assert.Equal(Full.Reason, decoded.Reason);
        Assert.Equal(Full.Code, decoded.Code);
        Assert.Equal(Full.At, decoded.At);
        Assert.Equal(Full.Payload, decoded.Payload);
        Assert.Equal(Full.View, decoded.View);
        Assert.Equal(Full.Partition, decoded.Partition);
        Assert.Equal(Full.Offset, decoded.Offset);
    }

    [Fact]
    public void Absent_optional_fields_stay_absent_and_an_offset_of_zero_stays_present()
    {
        var bare = DeadLetterCodec.Decode(1, DeadLetterCodec.Encode(Full with { View = null, Partition = null, Offset = null }));
        var zero = DeadLetterCodec.Decode(1, DeadLetterCodec.Encode(Full with { Offset = 0, Partition = "", View = null }));

        Assert.Null(bare.View);
        Assert.Null(bare.Partition);
        Assert.Null(bare.Offset);
        Assert.Equal(0, zero.Offset);
        Assert.Equal("", zero.Partition);
        Assert.Null(zero.View);
    }

    [Fact]
    public void A_time_with_an_offset_is_stored_as_the_same_instant_in_utc()
    {
        var at = new DateTimeOffset(2026, 11, 29, 8, 0, 0, TimeSpan.FromHours(2));

        var decoded = DeadLetterCodec.Decode(1, DeadLetterCodec.Encode(Full with { At = at }));

        Assert.Equal(at, decoded.At);
        Assert.Equal(TimeSpan.Zero, decoded.At.Offset);
    }

    [Fact]
    public void Every_truncation_and_a_later_version_decode_as_undecodable_letters_holding_the_stored_bytes()
    {
        var stored = DeadLetterCodec.Encode(Full);
        for (var length = 0; length < stored.Length; length++)
        {
            var cut = stored[..length];
            var decoded = DeadLetterCodec.Decode(9, cut);
            Assert.Equal(DeadLetterCodes.Undecodable, decoded.Code);
            Assert.Equal(9, decoded.Id);
            Assert.Equal(cut, decoded.Payload);
        }

        var later = (byte[])stored.Clone();
        later[0] = DeadLetterCodec.Version + 1;
        Assert.Equal(DeadLetterCodes.Undecodable, DeadLetterCodec.Decode(1, later).Code);
        Assert.Equal(DeadLetterCodes.Undecodable, DeadLetterCodec.Decode(1, [.. stored, 0]).Code);
        Assert.False(DeadLetterCodec.TryReadSource(later, out _));
        Assert.True(DeadLetterCodec.TryReadSource(stored, out var source));
        Assert.Equal(Full.Source, source);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(11);
        for (var i = 0; i < 5_000; i++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0)
            {
                bytes[0] = DeadLetterCodec.Version;
            }

            _ = DeadLetterCodec.Decode(i, bytes);
            _ = DeadLetterCodec.TryReadSource(bytes, out _);
        }
    }

    [Theory]
    [InlineData(1UL, 1UL)]
    [InlineData(1UL, 300UL)]
    [InlineData(255UL, 256UL)]
    [InlineData(256UL, 511UL)]
    [InlineData(1_764_396_000_000_000UL, 1_764_396_000_123_456UL)]
    [InlineData(0x00FF_FFFF_FFFF_FF00UL, 0x0100_0000_0000_00FFUL)]
    [InlineData(1UL, (ulong)long.MaxValue)]
    public void Id_prefixes_cover_exactly_the_range_in_order_without_overlap(ulong first, ulong last)
    {
        var prefixes = OnlineDeadLetterStore.IdPrefixes(first, last).ToList();

        // Each prefix is a block [low, high]; blocks follow one another without gaps from first to last.
        var expected = first;
        foreach (var prefix in prefixes)
        {
            var low = new byte[8];
            var high = Enumerable.Repeat((byte)0xFF, 8).ToArray();
            prefix.CopyTo(low, 0);
            prefix.CopyTo(high, 0);
            Assert.Equal(expected, BinaryPrimitives.ReadUInt64BigEndian(low));
            var end = BinaryPrimitives.ReadUInt64BigEndian(high);
            Assert.True(end <= last, $"block {Convert.ToHexString(prefix)} runs past {last}");
            expected = end + 1;
        }

        Assert.Equal(last + 1, expected);

        // Aligned blocks keep the count small: at most 255 per byte on each side of the range.
        Assert.InRange(prefixes.Count, 1, 2 * 255 * 8);
    }
}
