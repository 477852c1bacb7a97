using System.Text;
using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>How a result column is read back.</summary>
internal enum ColumnRole
{
    /// <summary>A join key or feature, converted to its declared type.</summary>
    Value,
    /// <summary>A timestamp the query turned into epoch microseconds.</summary>
    Micros,
}

/// <summary>One column of the result, under its source name.</summary>
internal sealed record OutputColumn(string Name, FeatureType Type, ColumnRole Role);

/// <summary>
/// The latest-row-per-entity query of one view over one file source: checks the source's columns against the
/// view, then builds SQL that filters the interval, keeps row 1 per key ordered by (event, created) descending
/// and returns every timestamp column as epoch microseconds. Parameters: <c>$path</c>, <c>$start</c>,
/// <c>$end</c> (epoch microseconds).
/// </summary>
internal sealed class LatestQuery
{
    private const string OrderColumn = "__freshet_order";

    private readonly string _view;
    private readonly string _path;

    private LatestQuery(string view, string path, string sql, string countSql, IReadOnlyList<OutputColumn> columns)
    {
        _view = view;
        _path = path;
        Sql = sql;
        CountSql = countSql;
        Columns = columns;
    }

    /// <summary>
    /// How many rows <see cref="Sql"/> returns (the distinct keys in the interval), with the same parameters;
    /// cheaper than the query itself: no row is carried, only keys.
    /// </summary>
    public string CountSql { get; }

    /// <summary>The query; its last column is the file each row came from.</summary>
    public string Sql { get; }

    /// <summary>The result columns before the file column.</summary>
    public IReadOnlyList<OutputColumn> Columns { get; }

    /// <summary>Describes the source and plans the query; throws <see cref="RequestException"/> for a missing or unusable column.</summary>
    public static LatestQuery Plan(DuckDBConnection connection, FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string path)
    {
        var scan = DuckDbSql.Scan(source.Format);
        var sourceTypes = Describe(connection, scan, view.Name, path);
        var eventField = RepoIndex.TimestampField(view, source);
        var createdField = RepoIndex.CreatedTimestampField(view, source);

        var columns = new List<OutputColumn>();
        var select = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string name, FeatureType type)
        {
            if (!seen.Add(name))
            {
                return;
            }

            var sourceType = Require(sourceTypes, name, view.Name, source, path);
            var micros = name == eventField || name == createdField || (type is { Shape: TypeShape.Scalar, Scalar: ScalarKind.Timestamp } && Timestamp(sourceType, name) is not null);
            if (micros)
            {
                var instant = Timestamp(sourceType, name) ?? throw NotATimestamp(view.Name, name, sourceType, path);
                select.Add($"epoch_us({instant.Expression}) AS {DuckDbSql.Identifier(name)}");
                columns.Add(new OutputColumn(name, FeatureType.Of(ScalarKind.Timestamp), ColumnRole.Micros));
            }
            else
            {
                select.Add(DuckDbSql.Identifier(name));
                columns.Add(new OutputColumn(name, type, ColumnRole.Value));
            }
        }

        foreach (var key in joinKeys)
        {
            Add(key.Name, key.Type);
        }

        foreach (var feature in view.Schema)
        {
            Add(feature.Name, feature.Type);
        }

        Add(eventField, FeatureType.Of(ScalarKind.Timestamp));
        if (createdField is not null)
        {
            Add(createdField, FeatureType.Of(ScalarKind.Timestamp));
        }

        var eventTime = Timestamp(sourceTypes[eventField], eventField)!;
        // (event, created) in microseconds; a null created time loses every tie. Without a created column
        // the second member is a constant: the pair still avoids the DuckDB bug described below.
        var created = createdField is null
            ? "0"
            : $"coalesce(epoch_us({Timestamp(sourceTypes[createdField], createdField)!.Expression}), -9223372036854775807 - 1)";
        var order = $"(epoch_us({eventTime.Expression}), {created})";

        var orderColumn = DuckDbSql.Identifier(OrderColumn);
        var sql = new StringBuilder();
        sql.Append("SELECT * EXCLUDE (").Append(orderColumn).Append(") FROM (SELECT ").AppendJoin(", ", select)
            .Append(", ").Append(DuckDbSql.Identifier(DuckDbSql.FileColumn)).Append(", ").Append(order).Append(" AS ").Append(orderColumn);
        sql.Append(" FROM ").Append(scan).Append(" WHERE ");
        foreach (var key in joinKeys)
        {
            sql.Append(DuckDbSql.Identifier(key.Name)).Append(" IS NOT NULL AND ");
        }

        // The bounds are typed like the column so DuckDB can compare without converting every row
        // (and can skip Parquet row groups by their statistics).
        sql.Append(eventTime.Expression).Append(" >= ").Append(eventTime.Bound("$start"))
            .Append(" AND ").Append(eventTime.Expression).Append(" < ").Append(eventTime.Bound("$end")).Append(')');

        // One ordering column computed below the window rather than two keys in the window: with a single
        // key DuckDB turns row_number() = 1 into a grouped arg-max that keeps one row per entity instead of
        // sorting the whole interval. It is a pair, not one BIGINT, because DuckDB 1.5.6 fails with an
        // internal error ("expression type mismatch") when that rewrite meets a scalar key and the two-sided
        // time filter over a CSV scan.
        sql.Append(" QUALIFY row_number() OVER (");
        if (joinKeys.Count > 0)
        {
            sql.Append("PARTITION BY ").AppendJoin(", ", joinKeys.Select(k => DuckDbSql.Identifier(k.Name))).Append(' ');
        }

        sql.Append("ORDER BY ").Append(orderColumn).Append(" DESC) = 1");

        var count = new StringBuilder("SELECT count(*) FROM (SELECT DISTINCT ");
        count.AppendJoin(", ", joinKeys.Count > 0 ? joinKeys.Select(k => DuckDbSql.Identifier(k.Name)) : ["1"]);
        count.Append(" FROM ").Append(scan).Append(" WHERE ");
        foreach (var key in joinKeys)
        {
            count.Append(DuckDbSql.Identifier(key.Name)).Append(" IS NOT NULL AND ");
        }

        count.Append(eventTime.Expression).Append(" >= ").Append(eventTime.Bound("$start"))
            .Append(" AND ").Append(eventTime.Expression).Append(" < ").Append(eventTime.Bound("$end")).Append(')');
        return new LatestQuery(view.Name, path, sql.ToString(), count.ToString(), columns);
    }

    /// <summary>Runs a DuckDB call, turning its errors into request errors naming the view and path (a cancelled run stays a cancellation).</summary>
    internal static T Guard<T>(Func<T> call, string view, string path, CancellationToken ct)
    {
        try
        {
            return call();
        }
        catch (DuckDBException) when (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        catch (DuckDBException e)
        {
            throw Failure(e, view, path);
        }
    }

    /// <summary>
    /// Runs a DuckDB call, turning its errors into <see cref="RequestException"/>s that name the view and path;
    /// a query interrupted by <paramref name="cancellationToken"/> is reported as cancelled.
    /// </summary>
    public T Guard<T>(Func<T> call, CancellationToken cancellationToken) => Guard(call, _view, _path, cancellationToken);

    internal static RequestException Failure(DuckDBException e, string view, string path)
    {
        var field = $"{view}.source";
        if (e.Message.Contains("No files found", StringComparison.Ordinal))
        {
            return new RequestException(field, "source_not_found", $"view '{view}': no file matches '{path}'");
        }

        var code = e.Message.StartsWith("Conversion Error", StringComparison.Ordinal) ? "wrong_type" : "offline_read_failed";
        return new RequestException(field, code, $"view '{view}': reading '{path}' failed: {e.Message}");
    }

    internal static Dictionary<string, string> Describe(DuckDBConnection connection, string scan, string view, string path)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"DESCRIBE SELECT * FROM {scan}";
        command.Parameters.Add(new DuckDBParameter("path", path));
        try
        {
            var types = new Dictionary<string, string>(StringComparer.Ordinal);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                types[reader.GetString(0)] = reader.GetString(1);
            }

            return types;
        }
        catch (DuckDBException e)
        {
            throw Failure(e, view, path);
        }
    }

    internal static string Require(Dictionary<string, string> sourceTypes, string name, string view, FileSource source, string path)
    {
        if (sourceTypes.TryGetValue(name, out var type) && name != DuckDbSql.FileColumn)
        {
            return type;
        }

        var present = string.Join(", ", sourceTypes.Keys.Where(k => k != DuckDbSql.FileColumn));
        throw new RequestException($"{view}.{name}", "missing_column",
            $"view '{view}': column '{name}' is not in source '{source.Name}' (file '{path}'); its columns are: {present}");
    }

    internal static RequestException NotATimestamp(string view, string name, string sourceType, string path) =>
        new($"{view}.{name}", "wrong_type", $"view '{view}': column '{name}' in file '{path}' is {sourceType}, not a timestamp (expected a TIMESTAMP, DATE, text or Unix seconds)");

    /// <summary>An instant expression over a timestamp-like column, and how to type a microsecond bound like it.</summary>
    internal sealed record Instant(string Expression, bool Naive)
    {
        public string Bound(string micros) => Naive
            ? $"make_timestamp(CAST({micros} AS BIGINT))"
            : $"CAST(make_timestamp(CAST({micros} AS BIGINT)) AS TIMESTAMPTZ)";
    }

    internal static Instant? Timestamp(string sourceType, string name)
    {
        var column = DuckDbSql.Identifier(name);

        // The session time zone is UTC (DuckDbSql.Open), so a naive TIMESTAMP and text without an offset
        // are read as UTC, and a TIMESTAMPTZ keeps its instant.
        return sourceType switch
        {
            "TIMESTAMP" => new Instant(column, Naive: true),
            "TIMESTAMP_NS" or "TIMESTAMP_MS" or "TIMESTAMP_S" or "DATE" => new Instant($"CAST({column} AS TIMESTAMP)", Naive: true),
            "TIMESTAMP WITH TIME ZONE" => new Instant(column, Naive: false),
            "VARCHAR" => new Instant($"CAST({column} AS TIMESTAMPTZ)", Naive: false),
            // Unix seconds, as Feast's UnixTimestamp columns.
            "BIGINT" or "INTEGER" or "HUGEINT" or "UBIGINT" or "UINTEGER" => new Instant($"make_timestamp(CAST({column} AS BIGINT) * 1000000)", Naive: true),
            _ => null,
        };
    }
}
