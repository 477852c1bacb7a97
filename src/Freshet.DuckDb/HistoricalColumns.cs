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
    public static void Append(IDuckDBAppenderRow row, FeatureValue v) => DuckDbValues.AppendStaged(row, v);
}
