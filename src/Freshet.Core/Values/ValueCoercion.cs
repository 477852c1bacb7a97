using System.Globalization;
using Freshet.Model;

namespace Freshet.Values;

/// <summary>
/// Converts values as they arrive (JSON numbers are int64 or float64, timestamps are strings, bytes are
/// base64) to the type a definition declares, or says why it cannot. Conversions never lose information
/// silently: an int64 that does not fit an int32 is an error, a float64 with a fraction is not an integer.
/// </summary>
public static class ValueCoercion
{
    /// <summary>Converts <paramref name="value"/> to <paramref name="type"/>; null stays null.</summary>
    public static bool TryCoerce(FeatureValue value, FeatureType type, out FeatureValue result, out string? error)
    {
        error = null;
        result = value;
        if (value.IsNull)
        {
            return true;
        }

        var target = FeatureValue.KindOf(type);
        if (value.Kind == target)
        {
            return type.Shape != TypeShape.Vector || CheckDimension(value, type, out error);
        }

        if (type.Shape != TypeShape.Scalar)
        {
            return TryCoerceList(value, type, target, out result, out error);
        }

        switch (target)
        {
            case ValueKind.Int32 when value.Kind == ValueKind.Int64:
                if (value.AsInt64() is >= int.MinValue and <= int.MaxValue)
                {
                    result = FeatureValue.FromInt32((int)value.AsInt64());
                    return true;
                }

                error = $"{value} does not fit int32";
                return false;
            case ValueKind.Int32 or ValueKind.Int64 when value.Kind == ValueKind.Float64 && IsWhole(value.AsFloat64(), target):
                result = target == ValueKind.Int32 ? FeatureValue.FromInt32((int)value.AsFloat64()) : FeatureValue.FromInt64((long)value.AsFloat64());
                return true;
            case ValueKind.Int64 when value.Kind == ValueKind.Int32:
                result = FeatureValue.FromInt64(value.AsInt64());
                return true;
            case ValueKind.Float32 when value.Kind is ValueKind.Float64 or ValueKind.Int64 or ValueKind.Int32:
                result = FeatureValue.FromFloat32((float)value.ToDouble());
                return true;
            case ValueKind.Float64 when value.Kind is ValueKind.Float32 or ValueKind.Int64 or ValueKind.Int32:
                result = FeatureValue.FromFloat64(value.ToDouble());
                return true;
            case ValueKind.Timestamp when value.Kind == ValueKind.String:
                if (TryParseTimestamp(value.AsString(), out var micros))
                {
                    result = FeatureValue.FromTimestampMicros(micros);
                    return true;
                }

                error = $"'{value.AsString()}' is not an RFC 3339 timestamp";
                return false;
            case ValueKind.Timestamp when value.Kind == ValueKind.Int64:
                // Unix seconds, as Feast's unix_timestamp_val; beyond years 1 to 9999 the microseconds would overflow.
                if (value.AsInt64() is >= -62_135_596_800 and <= 253_402_300_799)
                {
                    result = FeatureValue.FromTimestampMicros(value.AsInt64() * 1_000_000);
                    return true;
                }

                error = $"{value.AsInt64()} is not a time in years 1 to 9999 (whole seconds since 1970)";
                return false;
            case ValueKind.Bytes when value.Kind == ValueKind.String:
                try
                {
                    result = FeatureValue.FromBytes(Convert.FromBase64String(value.AsString()));
                    return true;
                }
                catch (FormatException)
                {
                    error = "bytes must be base64";
                    return false;
                }
        }

        error = $"expected {type}, got {Describe(value)}";
        return false;
    }

    /// <summary>Parses RFC 3339 / ISO 8601; a time without an offset is UTC (DESIGN §3).</summary>
    public static bool TryParseTimestamp(string text, out long micros)
    {
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
        {
            micros = Micros.From(t);
            return true;
        }

        micros = 0;
        return false;
    }

    /// <summary>A short description of a value's kind for error messages.</summary>
    public static string Describe(FeatureValue v) => v.Kind switch
    {
        ValueKind.Int64 or ValueKind.Int32 => "an integer",
        ValueKind.Float64 or ValueKind.Float32 => "a number",
        ValueKind.String => "a string",
        ValueKind.Bool => "a bool",
        ValueKind.Null => "null",
        ValueKind.Timestamp => "a timestamp",
        ValueKind.Bytes => "bytes",
        _ => "a list",
    };

    private static bool IsWhole(double d, ValueKind target) =>
        Math.Floor(d) == d && (target == ValueKind.Int32 ? d is >= int.MinValue and <= int.MaxValue : d is >= long.MinValue and < 9.2233720368547758E18);

    private static bool CheckDimension(FeatureValue value, FeatureType type, out string? error)
    {
        var n = value.AsList().Length;
        error = n == type.Dimension ? null : $"expected a vector of dimension {type.Dimension}, got {n} values";
        return error is null;
    }

    private static bool TryCoerceList(FeatureValue value, FeatureType type, ValueKind target, out FeatureValue result, out string? error)
    {
        result = default;
        if (value.Kind is < ValueKind.BoolList)
        {
            error = $"expected {type}, got {Describe(value)}";
            return false;
        }

        // Lists arrive from JSON as int64, float64, string or bool lists; widen or parse element by element.
        var source = value.AsList();
        var element = FeatureType.Of(type.Scalar);
        var items = Array.CreateInstance(ElementClr(target), source.Length);
        for (var i = 0; i < source.Length; i++)
        {
            var item = ElementAt(value.Kind, source, i);
            if (!TryCoerce(item, element, out var converted, out var itemError))
            {
                error = $"item {i}: {itemError}";
                return false;
            }

            items.SetValue(Box(converted), i);
        }

        result = FeatureValue.FromList(target, items);
        error = null;
        return type.Shape != TypeShape.Vector || CheckDimension(result, type, out error);
    }

    private static Type ElementClr(ValueKind listKind) => listKind switch
    {
        ValueKind.BoolList => typeof(bool),
        ValueKind.Int32List => typeof(int),
        ValueKind.Int64List or ValueKind.TimestampList => typeof(long),
        ValueKind.Float32List => typeof(float),
        ValueKind.Float64List => typeof(double),
        ValueKind.StringList => typeof(string),
        _ => typeof(byte[]),
    };

    private static FeatureValue ElementAt(ValueKind listKind, Array a, int i) => listKind switch
    {
        ValueKind.BoolList => FeatureValue.FromBool(((bool[])a)[i]),
        ValueKind.Int32List => FeatureValue.FromInt32(((int[])a)[i]),
        ValueKind.Int64List => FeatureValue.FromInt64(((long[])a)[i]),
        ValueKind.TimestampList => FeatureValue.FromTimestampMicros(((long[])a)[i]),
        ValueKind.Float32List => FeatureValue.FromFloat32(((float[])a)[i]),
        ValueKind.Float64List => FeatureValue.FromFloat64(((double[])a)[i]),
        ValueKind.StringList => FeatureValue.FromString(((string[])a)[i]),
        _ => FeatureValue.FromBytes(((byte[][])a)[i]),
    };

    private static object? Box(FeatureValue v) => v.Kind switch
    {
        ValueKind.Bool => v.AsBool(),
        ValueKind.Int32 => v.AsInt32(),
        ValueKind.Int64 => v.AsInt64(),
        ValueKind.Timestamp => v.TimestampMicros,
        ValueKind.Float32 => v.AsFloat32(),
        ValueKind.Float64 => v.AsFloat64(),
        ValueKind.String => v.AsString(),
        ValueKind.Bytes => v.AsBytes(),
        _ => null,
    };
}
