using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Freshet.Server.Http;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Server.Tests;

/// <summary>The JSON answer of an online read: event times are formatted once per row, but each value keeps its own.</summary>
public sealed class FeastJsonWriterTests
{
    [Fact]
    public void Each_value_gets_the_event_time_of_its_own_row_and_column()
    {
        const long A = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
        const long B = 1_767_225_600_123_456; // with microseconds
        const long C = 1_767_225_601_000_001;
        var columns = new[] { Column([A, B, 0]), Column([C, B, A]), Column([A, A, A]), Column([0, 0, B]) };
        var response = new OnlineResponse(["a", "b", "c", "d"], columns, 1);

        var output = new ArrayBufferWriter<byte>();
        FeastJsonWriter.WriteOnlineResponse(output, response);
        var results = JsonNode.Parse(Encoding.UTF8.GetString(output.WrittenSpan))!["results"]!.AsArray();

        Assert.Equal("""["2026-01-01T00:00:00Z","2026-01-01T00:00:00.123456Z","1970-01-01T00:00:00Z"]""", results[0]!["event_timestamps"]!.ToJsonString());
        Assert.Equal("""["2026-01-01T00:00:01.000001Z","2026-01-01T00:00:00.123456Z","2026-01-01T00:00:00Z"]""", results[1]!["event_timestamps"]!.ToJsonString());
        Assert.Equal("""["2026-01-01T00:00:00Z","2026-01-01T00:00:00Z","2026-01-01T00:00:00Z"]""", results[2]!["event_timestamps"]!.ToJsonString());
        Assert.Equal("""["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","2026-01-01T00:00:00.123456Z"]""", results[3]!["event_timestamps"]!.ToJsonString());
        Assert.Equal("[1,2,3]", results[0]!["values"]!.ToJsonString());
    }

    private static FeatureColumn Column(long[] times)
    {
        var column = new FeatureColumn(times.Length);
        for (var r = 0; r < times.Length; r++)
        {
            column.Values[r] = FeatureValue.FromInt64(r + 1);
            column.Statuses[r] = FieldStatus.Present;
            column.EventMicros[r] = times[r];
        }

        return column;
    }
}
