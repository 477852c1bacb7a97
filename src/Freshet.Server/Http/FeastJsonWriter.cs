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

    public static void WriteOnlineResponse(IBufferWriter<byte> output, OnlineResponse response)
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
            foreach (var t in column.EventMicros)
            {
                if (t == 0)
                {
                    w.WriteStringValue(ZeroTime);
                }
                else
                {
                    FeatureValueJson.WriteTimestamp(w, t);
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
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
