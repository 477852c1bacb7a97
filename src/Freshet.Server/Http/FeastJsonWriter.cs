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
                WriteValue(w, v);
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
                    WriteTime(w, t);
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void WriteValue(Utf8JsonWriter w, in FeatureValue v)
    {
        switch (v.Kind)
        {
            case ValueKind.Null:
                w.WriteNullValue();
                break;
            case ValueKind.Bool:
                w.WriteBooleanValue(v.AsBool());
                break;
            case ValueKind.Int32:
            case ValueKind.Int64:
                w.WriteNumberValue(v.AsInt64());
                break;
            case ValueKind.Float32:
                WriteFloat(w, v.AsFloat32());
                break;
            case ValueKind.Float64:
                WriteDouble(w, v.AsFloat64());
                break;
            case ValueKind.String:
                w.WriteStringValue(v.Utf8OrBytes);
                break;
            case ValueKind.Bytes:
                w.WriteBase64StringValue(v.Utf8OrBytes);
                break;
            case ValueKind.Timestamp:
                WriteTime(w, v.TimestampMicros);
                break;
            default:
                WriteList(w, v);
                break;
        }
    }

    private static void WriteFloat(Utf8JsonWriter w, float f)
    {
        // JSON has no NaN or infinity; such a value is written as null rather than invalid JSON.
        if (float.IsFinite(f))
        {
            w.WriteNumberValue(f);
        }
        else
        {
            w.WriteNullValue();
        }
    }

    private static void WriteDouble(Utf8JsonWriter w, double d)
    {
        if (double.IsFinite(d))
        {
            w.WriteNumberValue(d);
        }
        else
        {
            w.WriteNullValue();
        }
    }

    private static void WriteTime(Utf8JsonWriter w, long micros)
    {
        Span<char> buffer = stackalloc char[32];
        var t = Micros.ToDateTimeOffset(micros).UtcDateTime;
        var format = micros % 1_000_000 == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
        t.TryFormat(buffer, out var n, format, System.Globalization.CultureInfo.InvariantCulture);
        w.WriteStringValue(buffer[..n]);
    }

    private static void WriteList(Utf8JsonWriter w, in FeatureValue v)
    {
        w.WriteStartArray();
        switch (v.AsList())
        {
            case bool[] a:
                foreach (var x in a)
                {
                    w.WriteBooleanValue(x);
                }

                break;
            case int[] a:
                foreach (var x in a)
                {
                    w.WriteNumberValue(x);
                }

                break;
            case long[] a when v.Kind == ValueKind.TimestampList:
                foreach (var x in a)
                {
                    WriteTime(w, x);
                }

                break;
            case long[] a:
                foreach (var x in a)
                {
                    w.WriteNumberValue(x);
                }

                break;
            case float[] a:
                foreach (var x in a)
                {
                    WriteFloat(w, x);
                }

                break;
            case double[] a:
                foreach (var x in a)
                {
                    WriteDouble(w, x);
                }

                break;
            case string[] a:
                foreach (var x in a)
                {
                    w.WriteStringValue(x);
                }

                break;
            case byte[][] a:
                foreach (var x in a)
                {
                    w.WriteBase64StringValue(x);
                }

                break;
        }

        w.WriteEndArray();
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
