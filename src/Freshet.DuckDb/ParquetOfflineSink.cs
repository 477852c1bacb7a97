using System.Globalization;
using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>
/// Archives pushed rows as Parquet: each append writes one new file
/// <c>{dataDirectory}/offline/{source}/part-{yyyyMMddTHHmmssfffffff}Z-{guid}.parquet</c>, first under a hidden
/// temporary name in the same directory and then renamed, so a reader globbing <c>*.parquet</c> never sees a
/// half-written file. Column types come from the push source's schema; undeclared columns take the type of
/// their values (the source's event and created time columns are timestamps), and a column with only nulls
/// is text. Timestamps are written as UTC instants (Parquet <c>TIMESTAMP</c> adjusted to UTC, microseconds).
/// </summary>
public sealed class DuckDbOfflineSink : IOfflineSink
{
    private readonly TimeProvider _clock;

    /// <summary>Creates a sink; <paramref name="clock"/> names the files (the system clock when null).</summary>
    public DuckDbOfflineSink(TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public Task<string> AppendAsync(PushSource source, ColumnTable rows, string dataDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        if (source.Name.Length == 0 || source.Name is "." or ".." || source.Name.IndexOfAny(['/', '\\', ':', '\0']) >= 0)
        {
            throw new RequestException("push_source_name", "bad_name", $"'{source.Name}' cannot name a directory");
        }

        var columns = Columns(source, rows);
        if (columns.Count == 0)
        {
            throw new RequestException("df", "no_columns", $"push source '{source.Name}': there are no columns to write");
        }

        return Task.Run(() => Write(source, rows, columns, dataDirectory), cancellationToken);
    }

    private string Write(PushSource source, ColumnTable rows, List<SinkColumn> columns, string dataDirectory)
    {
        var directory = Path.GetFullPath(Path.Combine(dataDirectory, "offline", source.Name));
        Directory.CreateDirectory(directory);
        var stamp = _clock.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmssfffffff'Z'", CultureInfo.InvariantCulture);
        var name = $"part-{stamp}-{Guid.NewGuid():N}.parquet";
        var final = Path.Combine(directory, name);
        var temporary = Path.Combine(directory, $".{name}.tmp");
        try
        {
            using (var connection = DuckDbSql.Open())
            {
                Stage(connection, rows, columns);
                using var command = connection.CreateCommand();
                var select = string.Join(", ", columns.Select(c => c.Export()));
                command.CommandText = $"COPY (SELECT {select} FROM staging) TO {DuckDbSql.Literal(temporary)} (FORMAT parquet)";
                command.ExecuteNonQuery();
            }

            File.Move(temporary, final);
            return final;
        }
        finally
        {
            // Only left behind when writing or renaming failed.
            File.Delete(temporary);
        }
    }

    private static void Stage(DuckDBConnection connection, ColumnTable rows, List<SinkColumn> columns)
    {
        using (var create = connection.CreateCommand())
        {
            create.CommandText = $"CREATE TABLE staging ({string.Join(", ", columns.Select(c => $"{DuckDbSql.Identifier(c.Name)} {c.StagingType()}"))})";
            create.ExecuteNonQuery();
        }

        using var appender = connection.CreateAppender("staging");
        for (var r = 0; r < rows.RowCount; r++)
        {
            var row = appender.CreateRow();
            foreach (var column in columns)
            {
                DuckDbValues.AppendStaged(row, column.Values[r]);
            }

            row.EndRow();
        }
    }

    private static List<SinkColumn> Columns(PushSource source, ColumnTable rows)
    {
        var declared = source.Schema.ToDictionary(f => f.Name, f => f.Type, StringComparer.Ordinal);
        var timestamps = new HashSet<string>(StringComparer.Ordinal) { source.TimestampField ?? "event_timestamp" };
        if (source.CreatedTimestampField is { } created)
        {
            timestamps.Add(created);
        }

        var columns = new List<SinkColumn>();
        foreach (var name in rows.Names)
        {
            var values = rows.Column(name)!;
            FeatureType? type = declared.TryGetValue(name, out var t) ? t
                : timestamps.Contains(name) ? FeatureType.Of(ScalarKind.Timestamp)
                : Infer(values);
            if (type is not { } target)
            {
                columns.Add(new SinkColumn(name, null, values));
                continue;
            }

            var converted = new FeatureValue[values.Length];
            for (var r = 0; r < values.Length; r++)
            {
                if (!ValueCoercion.TryCoerce(values[r], target, out converted[r], out var error))
                {
                    throw new RequestException($"df.{name}[{r}]", "wrong_type", $"push source '{source.Name}': column '{name}' row {r}: {error}");
                }
            }

            columns.Add(new SinkColumn(name, target, converted));
        }

        return columns;
    }

    private static FeatureType? Infer(FeatureValue[] values)
    {
        foreach (var v in values)
        {
            if (v.IsNull)
            {
                continue;
            }

            return v.Kind switch
            {
                ValueKind.Bool => FeatureType.Of(ScalarKind.Bool),
                ValueKind.Int32 => FeatureType.Of(ScalarKind.Int32),
                ValueKind.Int64 => FeatureType.Of(ScalarKind.Int64),
                ValueKind.Float32 => FeatureType.Of(ScalarKind.Float32),
                ValueKind.Float64 => FeatureType.Of(ScalarKind.Float64),
                ValueKind.String => FeatureType.Of(ScalarKind.String),
                ValueKind.Bytes => FeatureType.Of(ScalarKind.Bytes),
                ValueKind.Timestamp => FeatureType.Of(ScalarKind.Timestamp),
                ValueKind.BoolList => FeatureType.ListOf(ScalarKind.Bool),
                ValueKind.Int32List => FeatureType.ListOf(ScalarKind.Int32),
                ValueKind.Int64List => FeatureType.ListOf(ScalarKind.Int64),
                ValueKind.Float32List => FeatureType.ListOf(ScalarKind.Float32),
                ValueKind.Float64List => FeatureType.ListOf(ScalarKind.Float64),
                ValueKind.StringList => FeatureType.ListOf(ScalarKind.String),
                ValueKind.BytesList => FeatureType.ListOf(ScalarKind.Bytes),
                _ => FeatureType.ListOf(ScalarKind.Timestamp),
            };
        }

        return null;
    }

    /// <summary>One column to write: its type (null when every value is null) and its converted values.</summary>
    private sealed record SinkColumn(string Name, FeatureType? Type, FeatureValue[] Values)
    {
        public string StagingType() => Type is not { } t ? "VARCHAR" : t.Shape == TypeShape.Scalar ? Sql(t.Scalar) : Sql(t.Scalar) + "[]";

        public string Export()
        {
            var column = DuckDbSql.Identifier(Name);
            return Type switch
            {
                { Scalar: ScalarKind.Timestamp, Shape: TypeShape.Scalar } => $"CAST(make_timestamp({column}) AS TIMESTAMPTZ) AS {column}",
                { Scalar: ScalarKind.Timestamp } => $"list_transform({column}, lambda x: CAST(make_timestamp(x) AS TIMESTAMPTZ)) AS {column}",
                _ => column,
            };
        }

        private static string Sql(ScalarKind kind) => kind switch
        {
            ScalarKind.Bool => "BOOLEAN",
            ScalarKind.Int32 => "INTEGER",
            ScalarKind.Int64 or ScalarKind.Timestamp => "BIGINT",
            ScalarKind.Float32 => "FLOAT",
            ScalarKind.Float64 => "DOUBLE",
            ScalarKind.Bytes => "BLOB",
            _ => "VARCHAR",
        };
    }
}
