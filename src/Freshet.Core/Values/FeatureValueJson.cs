using System.Text.Json;

namespace Freshet.Values;

/// <summary>Feature values as JSON, the way Feast's HTTP API writes them (and dead-letter payloads keep them).</summary>
public static class FeatureValueJson
{
    /// <summary>Writes one value: numbers, strings, base64 bytes, RFC 3339 timestamps, arrays for lists; null for null and for NaN or infinity (JSON has neither).</summary>
    public static void Write(Utf8JsonWriter w, in FeatureValue v)
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
                WriteTimestamp(w, v.TimestampMicros);
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

    /// <summary>Writes a timestamp as RFC 3339 UTC, with microseconds only when there are any.</summary>
    public static void WriteTimestamp(Utf8JsonWriter w, long micros)
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
                    WriteTimestamp(w, x);
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
}
