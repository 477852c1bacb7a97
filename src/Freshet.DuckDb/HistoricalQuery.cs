using System.Text;
using Freshet.Model;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>
/// The SQL of a training-data run. The entity file is loaded into <see cref="Entities"/> (its row ids keep the
/// file's order) and <see cref="Keys"/> holds, per entity row, the join keys cast to their declared types and
/// the row's time in epoch microseconds. Each plain view becomes a table of (row, feature columns), each
/// aggregation view and the on-demand features a staging table filled from .NET; the output joins them all to
/// the entity rows by row id. Every computed column is named <c>__freshet_c{n}</c> after its position in the
/// plan's row, so no feature or key name can clash with another.
/// </summary>
internal static class HistoricalQuery
{
    public const string Entities = "__freshet_entities";
    public const string Keys = "__freshet_keys";
    public const string OnDemandTable = "__freshet_on_demand";
    public const string Row = "__freshet_row";
    public const string Time = "__freshet_t";
    public const string Kind = "__freshet_kind";

    private const string Order = "__freshet_order";

    public static string Column(int column) => "__freshet_c" + column.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string PlainTable(int index) => "__freshet_plain_" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string AggregationTable(int index) => "__freshet_aggregation_" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Id(string name) => DuckDbSql.Identifier(name);

    /// <summary>The keys table: row id, join keys cast to their declared types, the row's time in microseconds.</summary>
    public static string KeysSql(HistoricalPlan plan, LatestQuery.Instant time)
    {
        var sql = new StringBuilder($"CREATE TABLE {Keys} AS SELECT rowid AS {Row}");
        foreach (var key in plan.JoinKeys)
        {
            sql.Append(", CAST(").Append(Id(key.Name)).Append(" AS ").Append(HistoricalColumns.OutputType(key.Type)).Append(") AS ").Append(Id(key.Name));
        }

        sql.Append(", epoch_us(").Append(time.Expression).Append(") AS ").Append(Time).Append(" FROM ").Append(Entities);
        return sql.ToString();
    }

    /// <summary>
    /// Feast's point-in-time rule for one plain view as one ASOF join. The join's inequality is on a single 128-bit
    /// order key, event time in the high 64 bits and created time (a null created time is the smallest) in the
    /// low 64, against <c>(T, max)</c> on the entity side: the match is the row with the greatest (event, created)
    /// among those with event time &lt;= T, which is the created tie-break without a separate dedupe (two rows with
    /// equal event and created times give one of them). A ttl nulls a match older than <c>T − ttl</c> (the latest
    /// row is the only candidate: any other is older still). One statement: the join reads the source file
    /// (<c>$path</c>) directly, projected in a subquery.
    /// </summary>
    /// <remarks>
    /// Why not a dedupe first: on 10M source rows under a 256MB limit, DuckDB 1.5 ran out of memory in a
    /// <c>row_number()</c> window and in a grouped <c>arg_max_null</c> of a struct; the ASOF join spills. The
    /// source used to be copied into a working table first; joining the scan directly skips writing and reading
    /// that copy (docs/benchmarks.md: with it, 1.54x a hand-written ASOF join on 1M x 10M rows; without, see there).
    /// </remarks>
    public static string PlainSql(int index, HistoricalViewRead read, Dictionary<string, string> sourceTypes, string path)
    {
        var view = read.View;
        var source = read.Source;
        var eventField = RepoIndex.TimestampField(view, source);
        var createdField = RepoIndex.CreatedTimestampField(view, source);
        var select = new List<string>();
        foreach (var key in read.Keys)
        {
            LatestQuery.Require(sourceTypes, key.Name, view.Name, source, path);
            select.Add($"CAST({Id(key.Name)} AS {HistoricalColumns.OutputType(key.Type)}) AS {Id(key.Name)}");
        }

        var eventTime = Instant(sourceTypes, view, source, eventField, path);
        var micros = $"epoch_us({eventTime.Expression})";
        select.Add($"{micros} AS {Time}");
        // created + 2^63 maps every BIGINT (and null, as the smallest) into [0, 2^64).
        var created = createdField is null
            ? "0"
            : $"(coalesce(CAST(epoch_us({Instant(sourceTypes, view, source, createdField, path).Expression}) AS HUGEINT), -9223372036854775808) + 9223372036854775808)";
        select.Add($"CAST({micros} AS HUGEINT) * 18446744073709551616 + {created} AS {Order}");
        foreach (var feature in read.Features)
        {
            var sourceType = LatestQuery.Require(sourceTypes, feature.Feature, view.Name, source, path);
            var value = feature.Type is { Shape: TypeShape.Scalar, Scalar: ScalarKind.Timestamp }
                ? (LatestQuery.Timestamp(sourceType, feature.Feature) ?? throw LatestQuery.NotATimestamp(view.Name, feature.Feature, sourceType, path)).Expression
                : Id(feature.Feature);
            select.Add($"CAST({value} AS {HistoricalColumns.OutputType(feature.Type)}) AS {Column(feature.Column)}");
        }

        var keys = read.Keys.Select(k => Id(k.Name)).ToList();
        var sql = new StringBuilder("CREATE TABLE ").Append(PlainTable(index)).Append(" AS SELECT e.").Append(Row);
        foreach (var feature in read.Features)
        {
            var column = $"s.{Column(feature.Column)}";
            sql.Append(", ").Append(read.TtlMicros > 0
                ? $"CASE WHEN s.{Time} >= e.{Time} - {read.TtlMicros} THEN {column} END"
                : column).Append(" AS ").Append(Column(feature.Column));
        }

        sql.Append(" FROM ").Append(Keys).Append(" e ASOF LEFT JOIN (SELECT ").AppendJoin(", ", select)
            .Append(" FROM ").Append(DuckDbSql.Scan(source.Format)).Append(" WHERE ");
        foreach (var key in keys)
        {
            sql.Append(key).Append(" IS NOT NULL AND ");
        }

        sql.Append(eventTime.Expression).Append(" IS NOT NULL) s ON ");
        foreach (var key in keys)
        {
            sql.Append("e.").Append(key).Append(" = s.").Append(key).Append(" AND ");
        }

        // (T, max created): every row at T qualifies, the greatest created time wins.
        sql.Append("CAST(e.").Append(Time).Append(" AS HUGEINT) * 18446744073709551616 + 18446744073709551615 >= s.").Append(Order);
        return sql.ToString();
    }

    /// <summary>
    /// One stream of an aggregation view's entity rows and events, sorted by (key, time, kind) with entity rows
    /// (kind 0) before events (kind 1) at the same time, so a row at <c>T</c> is answered before the events at
    /// <c>T</c> are added (the strict bound). Columns: the join keys, time, kind, row, then the event columns in
    /// <paramref name="eventColumns"/> (the view's source columns found in the file; the others read as null).
    /// With <paramref name="buckets"/> above 1 the stream holds only the entities whose key hashes to
    /// <paramref name="bucket"/>: every entity's rows and events fall in one bucket, so the buckets can be swept
    /// one after another, each sort a fraction of the whole.
    /// </summary>
    public static string AggregationSql(HistoricalAggregationRead read, Dictionary<string, string> sourceTypes, string path, out List<int> eventColumns,
        int bucket = 0, int buckets = 1)
    {
        var view = read.View;
        var source = read.Source;
        var types = sourceTypes;
        var keys = view.Keys.Select(k => Id(k.Name)).ToList();
        foreach (var key in view.Keys)
        {
            LatestQuery.Require(types, key.Name, view.View.Name, source, path);
        }

        // An aggregation's input column must be there; other declared columns (read by filters) may be absent.
        foreach (var resolution in view.Resolutions)
        {
            foreach (var state in resolution.States.Where(s => s.Column >= 0))
            {
                LatestQuery.Require(types, view.Columns[state.Column].Name, view.View.Name, source, path);
            }
        }

        LatestQuery.Require(types, view.TimestampField, view.View.Name, source, path);
        var eventTime = LatestQuery.Timestamp(types[view.TimestampField], view.TimestampField)
            ?? throw LatestQuery.NotATimestamp(view.View.Name, view.TimestampField, types[view.TimestampField], path);
        eventColumns = [.. Enumerable.Range(0, view.Columns.Length).Where(c => types.ContainsKey(view.Columns[c].Name))];

        var sql = new StringBuilder("SELECT * FROM (SELECT ");
        foreach (var key in keys)
        {
            sql.Append(key).Append(", ");
        }

        sql.Append(Time).Append(", 0 AS ").Append(Kind).Append(", ").Append(Row);
        foreach (var c in eventColumns)
        {
            sql.Append(", NULL AS ").Append(Column(c));
        }

        sql.Append(" FROM ").Append(Keys).Append(" WHERE ");
        foreach (var key in keys)
        {
            sql.Append(key).Append(" IS NOT NULL AND ");
        }

        sql.Append(Time).Append(" IS NOT NULL");
        // The keys table holds the keys already cast; the events' are cast the same way, so both hash alike.
        var typedKeys = view.Keys.Select(k => $"CAST({Id(k.Name)} AS {HistoricalColumns.OutputType(k.Type)})").ToList();
        string Bucket(IEnumerable<string> columns) => buckets <= 1
            ? ""
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $" AND hash({string.Join(", ", columns)}) % {buckets} = {bucket}");
        sql.Append(Bucket(typedKeys)).Append(" UNION ALL SELECT ");
        foreach (var key in view.Keys)
        {
            sql.Append("CAST(").Append(Id(key.Name)).Append(" AS ").Append(HistoricalColumns.OutputType(key.Type)).Append("), ");
        }

        sql.Append("epoch_us(").Append(eventTime.Expression).Append("), 1, NULL");
        foreach (var c in eventColumns)
        {
            sql.Append(", ").Append(Id(view.Columns[c].Name));
        }

        sql.Append(" FROM ").Append(DuckDbSql.Scan(source.Format)).Append(" WHERE ");
        foreach (var key in keys)
        {
            sql.Append(key).Append(" IS NOT NULL AND ");
        }

        sql.Append(eventTime.Expression).Append(" IS NOT NULL").Append(Bucket(typedKeys)).Append(") ORDER BY ");
        foreach (var key in keys)
        {
            sql.Append(key).Append(", ");
        }

        sql.Append(Time).Append(", ").Append(Kind);
        return sql.ToString();
    }

    /// <summary>
    /// Where each column of the plan's row is read in the output query (<c>e</c> is the entity table, <c>k</c> the
    /// keys table), and the joins that bring them: a staged column is typed for output here. Without
    /// <paramref name="withKeys"/> the keys table is left out (and the join-key expressions with it): the output
    /// reads only features, and its join keys are the entity file's own columns.
    /// </summary>
    public static (string[] Expressions, string From) Layout(HistoricalPlan plan, bool withOnDemand, bool withKeys = true)
    {
        var expressions = new string[plan.ColumnCount];
        for (var k = 0; k < plan.JoinKeys.Length && withKeys; k++)
        {
            expressions[k] = $"k.{Id(plan.JoinKeys[k].Name)}";
        }

        foreach (var input in plan.RequestInputs)
        {
            expressions[input.Column] = $"e.{Id(input.Name)}";
        }

        var from = new StringBuilder(withKeys ? $"{Entities} e JOIN {Keys} k ON k.{Row} = e.rowid" : $"{Entities} e");
        for (var i = 0; i < plan.PlainViews.Length; i++)
        {
            from.Append(" LEFT JOIN ").Append(PlainTable(i)).Append(" p").Append(i).Append(" ON p").Append(i).Append('.').Append(Row).Append(" = e.rowid");
            foreach (var f in plan.PlainViews[i].Features)
            {
                expressions[f.Column] = $"p{i}.{Column(f.Column)}";
            }
        }

        for (var i = 0; i < plan.Aggregations.Length; i++)
        {
            from.Append(" LEFT JOIN ").Append(AggregationTable(i)).Append(" a").Append(i).Append(" ON a").Append(i).Append('.').Append(Row).Append(" = e.rowid");
            foreach (var c in plan.Aggregations[i].Columns)
            {
                expressions[c] = HistoricalColumns.FromStaging($"a{i}.{Column(c)}", plan.ColumnTypes[c]);
            }
        }

        if (withOnDemand)
        {
            from.Append(" LEFT JOIN ").Append(OnDemandTable).Append(" od ON od.").Append(Row).Append(" = e.rowid");
            foreach (var odv in plan.OnDemand)
            {
                expressions[odv.Output] = HistoricalColumns.FromStaging($"od.{Column(odv.Output)}", plan.ColumnTypes[odv.Output]);
            }
        }

        return (expressions, from.ToString());
    }

    /// <summary>The staging table of computed columns: the row id and one column per computed value.</summary>
    public static string StagingTableSql(string table, HistoricalPlan plan, IEnumerable<int> columns) =>
        $"CREATE TABLE {table} ({Row} BIGINT{string.Concat(columns.Select(c => $", {Column(c)} {HistoricalColumns.StagingType(plan.ColumnTypes[c])}"))})";

    private static LatestQuery.Instant Instant(Dictionary<string, string> sourceTypes, FeatureView view, FileSource source, string name, string path)
    {
        var type = LatestQuery.Require(sourceTypes, name, view.Name, source, path);
        return LatestQuery.Timestamp(type, name) ?? throw LatestQuery.NotATimestamp(view.Name, name, type, path);
    }
}
