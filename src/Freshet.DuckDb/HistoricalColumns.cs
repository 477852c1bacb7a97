using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>
/// Declared feature types as DuckDB types, for the training-data tables: values computed in .NET (aggregations,
/// on-demand features) are appended to staging tables and typed like the plain views' columns on output.
/// </summary>
internal static class HistoricalColumns
{
    /// <summary>The DuckDB type of a declared type as written to the result (timestamps are UTC instants).</summary>
    public static string OutputType(FeatureType type) => type.Shape == TypeShape.Scalar ? Scalar(type.Scalar, staged: false) : Scalar(type.Scalar, staged: false) + "[]";

    /// <summary>The type a value is appended as: timestamps as epoch microseconds (the appender's simplest form).</summary>
    public static string StagingType(FeatureType type) => type.Shape == TypeShape.Scalar ? Scalar(type.Scalar, staged: true) : Scalar(type.Scalar, staged: true) + "[]";

    /// <summary>A staged column typed for output.</summary>
    public static string FromStaging(string column, FeatureType type) => type switch
    {
        { Scalar: ScalarKind.Timestamp, Shape: TypeShape.Scalar } => $"CAST(make_timestamp({column}) AS TIMESTAMPTZ)",
        { Scalar: ScalarKind.Timestamp } => $"list_transform({column}, lambda x: CAST(make_timestamp(x) AS TIMESTAMPTZ))",
        _ => column,
    };

    private static string Scalar(ScalarKind kind, bool staged) => kind switch
    {
        ScalarKind.Bool => "BOOLEAN",
        ScalarKind.Int32 => "INTEGER",
        ScalarKind.Int64 => "BIGINT",
        ScalarKind.Timestamp => staged ? "BIGINT" : "TIMESTAMPTZ",
        ScalarKind.Float32 => "FLOAT",
        ScalarKind.Float64 => "DOUBLE",
        ScalarKind.Bytes => "BLOB",
        _ => "VARCHAR",
    };

    /// <summary>Appends one value in its staging form; the value has its declared type's kind (or is null).</summary>
    public static void Append(IDuckDBAppenderRow row, FeatureValue v) => _ = v.Kind switch
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
