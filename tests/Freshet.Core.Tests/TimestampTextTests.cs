using System.Text;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>The digit-by-digit RFC 3339 formatter of served event times against <see cref="Micros.ToRfc3339"/>.</summary>
public sealed class TimestampTextTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(-1L)]
    [InlineData(999_999L)]
    [InlineData(1_000_000L)]
    [InlineData(1_767_225_600_000_000L)]
    [InlineData(1_767_225_600_000_010L)]
    [InlineData(-62_135_596_800_000_000L)]
    [InlineData(253_402_300_799_999_999L)]
    public void A_timestamp_formats_as_the_same_text_as_ToRfc3339(long micros)
    {
        Assert.Equal(Micros.ToRfc3339(micros), Format(micros));
    }

    [Fact]
    public void Random_timestamps_with_and_without_microseconds_format_as_ToRfc3339()
    {
        var random = new Random(20261129);
        for (var i = 0; i < 20_000; i++)
        {
            var micros = random.NextInt64(-62_135_596_800_000_000L, 253_402_300_800_000_000L);
            if (i % 2 == 0)
            {
                micros -= micros % 1_000_000;
            }

            Assert.Equal(Micros.ToRfc3339(micros), Format(micros));
        }
    }

    private static string Format(long micros)
    {
        Span<byte> utf8 = stackalloc byte[FeatureValueJson.MaxTimestampBytes];
        return Encoding.UTF8.GetString(utf8[..FeatureValueJson.FormatTimestamp(micros, utf8)]);
    }
}
