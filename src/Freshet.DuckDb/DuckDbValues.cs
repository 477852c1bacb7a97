using System.Collections;
using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>Reads DuckDB result cells as <see cref="FeatureValue"/>s.</summary>
internal static class DuckDbValues
{
    /// <summary>
    /// A reader of one result column chosen once from its CLR type, so the common scalar columns are read
    /// without boxing; null for any other type (read with <see cref="TryConvert"/>).
    /// </summary>
    public static Func<DuckDBDataReader, int, FeatureValue>? ReaderFor(Type clrType)
    {
        if (clrType == typeof(long))
        {
            return static (r, i) => FeatureValue.FromInt64(r.GetInt64(i));
        }

        if (clrType == typeof(int))
        {
            return static (r, i) => FeatureValue.FromInt32(r.GetInt32(i));
        }

        if (clrType == typeof(double))
        {
            return static (r, i) => FeatureValue.FromFloat64(r.GetDouble(i));
        }

        if (clrType == typeof(float))
        {
            return static (r, i) => FeatureValue.FromFloat32(r.GetFloat(i));
        }

        if (clrType == typeof(bool))
        {
            return static (r, i) => FeatureValue.FromBool(r.GetBoolean(i));
        }

        if (clrType == typeof(string))
        {
            return static (r, i) => FeatureValue.FromString(r.GetString(i));
        }

        return null;
    }

    /// <summary>A boxed DuckDB value as a feature value; timestamps without an offset are UTC.</summary>
    public static FeatureValue FromObject(object? value) => value switch
    {
        null or DBNull => FeatureValue.Null,
        bool b => FeatureValue.FromBool(b),
        sbyte v => FeatureValue.FromInt32(v),
        byte v => FeatureValue.FromInt32(v),
        short v => FeatureValue.FromInt32(v),
        ushort v => FeatureValue.FromInt32(v),
        int v => FeatureValue.FromInt32(v),
        uint v => FeatureValue.FromInt64(v),
        long v => FeatureValue.FromInt64(v),
        ulong v when v <= long.MaxValue => FeatureValue.FromInt64((long)v),
        float v => FeatureValue.FromFloat32(v),
        double v => FeatureValue.FromFloat64(v),
        decimal v => FeatureValue.FromFloat64((double)v),
        string s => FeatureValue.FromString(s),
        byte[] bytes => FeatureValue.FromBytes(bytes),
        Stream stream => FeatureValue.FromBytes(ReadAll(stream)),
        DateTime t => FeatureValue.FromTimestampMicros((t.Ticks - DateTime.UnixEpoch.Ticks) / 10),
        DateTimeOffset t => FeatureValue.FromTimestamp(t),
        DateOnly d => FeatureValue.FromTimestampMicros((d.ToDateTime(TimeOnly.MinValue).Ticks - DateTime.UnixEpoch.Ticks) / 10),
        _ => throw new InvalidCastException($"a DuckDB value of type {value.GetType().Name} has no feature type"),
    };

    /// <summary>
    /// Converts a boxed cell to the declared type. Lists are converted item by item; a list with a null item
    /// is an error, since Freshet's lists hold no nulls.
    /// </summary>
    public static bool TryConvert(object? cell, FeatureType type, out FeatureValue result, out string? error)
    {
        if (cell is IList items)
        {
            if (type.Shape == TypeShape.Scalar)
            {
                result = default;
                error = $"expected {type}, got a list";
                return false;
            }

            return TryConvertList(items, type, out result, out error);
        }

        return ValueCoercion.TryCoerce(FromObject(cell), type, out result, out error);
    }

    private static bool TryConvertList(IList items, FeatureType type, out FeatureValue result, out string? error)
    {
        result = default;
        var element = FeatureType.Of(type.Scalar);
        var target = FeatureValue.KindOf(type);
        Array array = target switch
        {
            ValueKind.BoolList => new bool[items.Count],
            ValueKind.Int32List => new int[items.Count],
            ValueKind.Int64List or ValueKind.TimestampList => new long[items.Count],
            ValueKind.Float32List => new float[items.Count],
            ValueKind.Float64List => new double[items.Count],
            ValueKind.StringList => new string[items.Count],
            _ => new byte[items.Count][],
        };
        for (var i = 0; i < items.Count; i++)
        {
            var item = FromObject(items[i]);
            if (item.IsNull)
            {
                error = $"item {i} is null; lists cannot hold nulls";
                return false;
            }

            if (!ValueCoercion.TryCoerce(item, element, out var converted, out var itemError))
            {
                error = $"item {i}: {itemError}";
                return false;
            }

            switch (array)
            {
                case bool[] a: a[i] = converted.AsBool(); break;
                case int[] a: a[i] = converted.AsInt32(); break;
                case long[] a: a[i] = converted.Kind == ValueKind.Timestamp ? converted.TimestampMicros : converted.AsInt64(); break;
                case float[] a: a[i] = converted.AsFloat32(); break;
                case double[] a: a[i] = converted.AsFloat64(); break;
                case string[] a: a[i] = converted.AsString(); break;
                case byte[][] a: a[i] = converted.AsBytes(); break;
            }
        }

        // Same kind now, so this only checks a vector's dimension.
        return ValueCoercion.TryCoerce(FeatureValue.FromList(target, array), type, out result, out error);
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// Appends one value to a DuckDB appender row in its staging form: timestamps (and timestamp lists) as epoch
    /// microseconds, typed when the staging table is exported; the value has its column's kind (or is null).
    /// </summary>
    public static void AppendStaged(IDuckDBAppenderRow row, FeatureValue v) => _ = v.Kind switch
    {
        ValueKind.Null => row.AppendNullValue(),
        ValueKind.Bool => row.AppendValue((bool?)v.AsBool()),
        ValueKind.Int32 => row.AppendValue((int?)v.AsInt32()),
        ValueKind.Int64 => row.AppendValue((long?)v.AsInt64()),
        ValueKind.Timestamp => row.AppendValue((long?)v.TimestampMicros),
        ValueKind.Float32 => row.AppendValue((float?)v.AsFloat32()),
        ValueKind.Float64 => row.AppendValue((double?)v.AsFloat64()),
        ValueKind.String => row.AppendValue(v.AsString()),
        ValueKind.Bytes => row.AppendValue(v.AsBytes()),
        ValueKind.BoolList => row.AppendValue((bool[])v.AsList()),
        ValueKind.Int32List => row.AppendValue((int[])v.AsList()),
        ValueKind.Int64List or ValueKind.TimestampList => row.AppendValue((long[])v.AsList()),
        ValueKind.Float32List => row.AppendValue((float[])v.AsList()),
        ValueKind.Float64List => row.AppendValue((double[])v.AsList()),
        ValueKind.StringList => row.AppendValue((string[])v.AsList()),
        _ => row.AppendValue((byte[][])v.AsList()),
    };
}
