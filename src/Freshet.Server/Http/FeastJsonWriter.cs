using System.Buffers;
using System.Text.Json;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Server.Http;

/// <summary>Writes Feast's JSON responses straight to the response buffer as UTF-8.</summary>
internal static class FeastJsonWriter
{
    private static readonly JsonEncodedText Metadata = JsonEncodedText.Encode("metadata");
    private static readonly JsonEncodedText FeatureNames = JsonEncodedText.Encode("feature_names");
    private static readonly JsonEncodedText Results = JsonEncodedText.Encode("results");
    private static readonly JsonEncodedText ValuesName = JsonEncodedText.Encode("values");
    private static readonly JsonEncodedText Statuses = JsonEncodedText.Encode("statuses");
    private static readonly JsonEncodedText EventTimestamps = JsonEncodedText.Encode("event_timestamps");

    private static readonly JsonEncodedText[] StatusNames =
    [
        JsonEncodedText.Encode("INVALID"),
        JsonEncodedText.Encode("PRESENT"),
        JsonEncodedText.Encode("NULL_VALUE"),
        JsonEncodedText.Encode("NOT_FOUND"),
        JsonEncodedText.Encode("OUTSIDE_MAX_AGE"),
    ];

    private static readonly JsonEncodedText ZeroTime = JsonEncodedText.Encode("1970-01-01T00:00:00Z");

    // A timestamp in quotes, as the raw JSON value written for it.
    private const int QuotedTimestampBytes = FeatureValueJson.MaxTimestampBytes + 2;

    public static void WriteOnlineResponse(IBufferWriter<byte> output, OnlineResponse response)
    {
        // Every feature of a view read for one entity row carries the row's event time: the text of the last
        // time written per row is kept, so a time is formatted once per row and view rather than once per value.
        var rows = response.RowCount;
        var texts = ArrayPool<byte>.Shared.Rent(Math.Max(rows, 1) * QuotedTimestampBytes);
        var times = ArrayPool<long>.Shared.Rent(Math.Max(rows, 1));
        var lengths = ArrayPool<byte>.Shared.Rent(Math.Max(rows, 1));
        try
        {
            Array.Clear(times, 0, rows);
            WriteOnlineResponse(output, response, new TimestampCache(texts, times, lengths));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(texts);
            ArrayPool<long>.Shared.Return(times);
            ArrayPool<byte>.Shared.Return(lengths);
        }
    }

    private static void WriteOnlineResponse(IBufferWriter<byte> output, OnlineResponse response, TimestampCache stamps)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        w.WriteStartObject();
        w.WriteStartObject(Metadata);
        w.WriteStartArray(FeatureNames);
        foreach (var name in response.FeatureNames)
        {
            w.WriteStringValue(name);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartArray(Results);
        foreach (var column in response.Columns)
        {
            w.WriteStartObject();
            w.WriteStartArray(ValuesName);
            foreach (var v in column.Values)
            {
                FeatureValueJson.Write(w, v);
            }

            w.WriteEndArray();
            w.WriteStartArray(Statuses);
            foreach (var s in column.Statuses)
            {
                w.WriteStringValue(StatusNames[(int)s]);
            }

            w.WriteEndArray();
            w.WriteStartArray(EventTimestamps);
            var times = column.EventMicros;
            for (var r = 0; r < times.Length; r++)
            {
                if (times[r] == 0)
                {
                    w.WriteStringValue(ZeroTime);
                }
                else
                {
                    // The formatted time is digits, '-', ':', '.', 'T' and 'Z': nothing to escape.
                    w.WriteRawValue(stamps.Quoted(r, times[r]), skipInputValidation: true);
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Per entity row, the last event time written and its quoted RFC 3339 text.</summary>
    private readonly struct TimestampCache(byte[] texts, long[] times, byte[] lengths)
    {
        public ReadOnlySpan<byte> Quoted(int row, long micros)
        {
            var text = texts.AsSpan(row * QuotedTimestampBytes, QuotedTimestampBytes);
            if (times[row] != micros)
            {
                text[0] = (byte)'"';
                var n = FeatureValueJson.FormatTimestamp(micros, text[1..]);
                text[n + 1] = (byte)'"';
                lengths[row] = (byte)(n + 2);
                times[row] = micros;
            }

            return text[..lengths[row]];
        }
    }

    public static void WriteError(IBufferWriter<byte> output, string code, string field, string message)
    {
        using var w = new Utf8JsonWriter(output);
        w.WriteStartObject();
        w.WriteString("code", code);
        w.WriteString("field", field);
        w.WriteString("message", message);

        // Feast's server (FastAPI) puts the message in "detail"; clients that print it keep working.
        w.WriteString("detail", message);
        w.WriteEndObject();
    }
}
