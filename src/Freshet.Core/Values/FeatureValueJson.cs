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

    /// <summary>The most bytes <see cref="FormatTimestamp"/> writes: <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>.</summary>
    public const int MaxTimestampBytes = 27;

    /// <summary>Writes a timestamp as RFC 3339 UTC, with microseconds only when there are any.</summary>
    public static void WriteTimestamp(Utf8JsonWriter w, long micros)
    {
        Span<byte> buffer = stackalloc byte[MaxTimestampBytes];
        w.WriteStringValue(buffer[..FormatTimestamp(micros, buffer)]);
    }

    /// <summary>
    /// Formats a timestamp as RFC 3339 UTC into <paramref name="utf8"/> (at least <see cref="MaxTimestampBytes"/>
    /// long) and returns the length: <c>yyyy-MM-ddTHH:mm:ssZ</c>, or <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c> when the
    /// time has microseconds, the same text as <see cref="Micros.ToRfc3339"/>. Written digit by digit: a
    /// custom <see cref="DateTime"/> format string is parsed on every call, and an answer holds one
    /// timestamp per value.
    /// </summary>
    public static int FormatTimestamp(long micros, Span<byte> utf8)
    {
        var t = Micros.ToDateTimeOffset(micros).UtcDateTime;
        t.Deconstruct(out var year, out var month, out var day);
        Digits(utf8[..4], year);
        utf8[4] = (byte)'-';
        Digits(utf8.Slice(5, 2), month);
        utf8[7] = (byte)'-';
        Digits(utf8.Slice(8, 2), day);
        utf8[10] = (byte)'T';
        Digits(utf8.Slice(11, 2), t.Hour);
        utf8[13] = (byte)':';
        Digits(utf8.Slice(14, 2), t.Minute);
        utf8[16] = (byte)':';
        Digits(utf8.Slice(17, 2), t.Second);
        if (micros % 1_000_000 == 0)
        {
            utf8[19] = (byte)'Z';
            return 20;
        }

        utf8[19] = (byte)'.';
        Digits(utf8.Slice(20, 6), (int)(t.Ticks % TimeSpan.TicksPerSecond / 10));
        utf8[26] = (byte)'Z';
        return 27;
    }

    /// <summary>Writes <paramref name="value"/> (non-negative) zero-padded into exactly the span's length.</summary>
    private static void Digits(Span<byte> span, int value)
    {
        for (var i = span.Length - 1; i >= 0; i--)
        {
            span[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
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
