using System.Diagnostics;
using DuckDB.NET.Data;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Online;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>The passes computed in .NET: aggregation views and on-demand features, read from and appended to DuckDB.</summary>
public sealed partial class DuckDbHistoricalRetrieval
{
    /// <summary>
    /// One aggregation view: sorted streams of entity rows and events (see <see cref="HistoricalQuery.AggregationSql"/>)
    /// swept entity by entity; each entity row's values go to a <see cref="SpilledRows"/> file and are appended to
    /// the view's staging table once the streams are closed. DuckDB's sort of the whole stream must fit in memory
    /// (it failed at 128MB for 2.2M rows, and at 1GB for 11M rows on a loaded machine), so the entities are split by
    /// key hash into buckets sized to a fraction of the memory limit, sorted and swept one after another; if a
    /// bucket still runs out of memory, the view starts over with four times as many.
    /// </summary>
    private void Aggregate(DuckDBConnection connection, string temp, HistoricalPlan plan, int index, string path,
        IProgress<MaterializeProgress>? progress, Stopwatch clock, CancellationToken ct)
    {
        var read = plan.Aggregations[index];
        var view = read.View;
        var name = view.View.Name;
        var scan = DuckDbSql.Scan(read.Source.Format);
        var types = LatestQuery.Describe(connection, scan, name, path);
        _ = HistoricalQuery.AggregationSql(read, types, path, out var eventColumns);
        Execute(connection, HistoricalQuery.StagingTableSql(HistoricalQuery.AggregationTable(index), plan, read.Columns), null, e => LatestQuery.Failure(e, name, path), ct);

        long? total = null;
        using (var count = connection.CreateCommand())
        {
            // For the progress bar only: Parquet answers from its footers.
            count.CommandText = $"SELECT (SELECT count(*) FROM {scan}) + (SELECT count(*) FROM {HistoricalQuery.Keys})";
            count.Parameters.Add(new DuckDBParameter("path", path));
            total = Guard(() => Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture), name, path, ct);
        }

        progress?.Report(new MaterializeProgress(name, 0, total, clock.Elapsed));
        using var spill = new SpilledRows(Path.Combine(temp, $"aggregation_{index}.rows"), read.Columns.Length);
        var buckets = _options.AggregationBuckets is { } fixedBuckets
            ? Math.Clamp(fixedBuckets, 1, MaxBuckets)
            : Buckets(connection, total, view.Keys.Length + 3 + eventColumns.Count);
        long rows;
        while (true)
        {
            rows = 0;
            spill.Clear();
            try
            {
                for (var b = 0; b < buckets; b++)
                {
                    var sql = HistoricalQuery.AggregationSql(read, types, path, out _, b, buckets);
                    rows = Sweep(connection, sql, plan, read, path, eventColumns, spill, rows, progress, total, clock, ct);
                }

                break;
            }
            catch (DuckDbOutOfMemory) when (buckets < MaxBuckets)
            {
                buckets = Math.Min(MaxBuckets, buckets * 4);
            }
        }

        AppendSpilled(connection, spill, HistoricalQuery.AggregationTable(index), name, ct);
        progress?.Report(new MaterializeProgress(name, rows, total, clock.Elapsed));
    }

    /// <summary>
    /// One sorted stream (a bucket) of an aggregation view swept into <paramref name="spill"/>; returns the rows
    /// streamed so far, <paramref name="rows"/> included.
    /// </summary>
    private long Sweep(DuckDBConnection connection, string sql, HistoricalPlan plan, HistoricalAggregationRead read, string path, IReadOnlyList<int> eventColumns,
        SpilledRows spill, long rows, IProgress<MaterializeProgress>? progress, long? total, Stopwatch clock, CancellationToken ct)
    {
        var view = read.View;
        var name = view.View.Name;
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.UseStreamingMode = true;
        command.Parameters.Add(new DuckDBParameter("path", path));
        using var cancel = ct.Register(command.Cancel);
        using var reader = Guard(() => command.ExecuteReader(), name, path, ct);

        var keyCount = view.Keys.Length;
        var timeOrdinal = keyCount;
        var kindOrdinal = keyCount + 1;
        var rowOrdinal = keyCount + 2;
        var firstEvent = keyCount + 3;
        var keyReaders = new Func<DuckDBDataReader, int, FeatureValue>?[keyCount];
        for (var k = 0; k < keyCount; k++)
        {
            keyReaders[k] = DuckDbValues.ReaderFor(reader.GetFieldType(k));
        }

        var eventReaders = new Func<DuckDBDataReader, int, FeatureValue>?[eventColumns.Count];
        for (var c = 0; c < eventColumns.Count; c++)
        {
            eventReaders[c] = DuckDbValues.ReaderFor(reader.GetFieldType(firstEvent + c));
        }

        var sweep = new OfflineAggregation(view, read.Slots);
        var keyValues = new FeatureValue[keyCount];
        var row = new FeatureValue[plan.ColumnCount];
        var staged = new FeatureValue[read.Columns.Length];
        byte[]? current = null;
        while (Guard(reader.Read, name, path, ct))
        {
            for (var k = 0; k < keyCount; k++)
            {
                keyValues[k] = Read(reader, k, keyReaders[k], view.Keys[k].Type, name, view.Keys[k].Name, path);
            }

            var key = EntityKeyCodec.Encode(keyValues);
            if (current is null || !key.AsSpan().SequenceEqual(current))
            {
                sweep.StartEntity();
                current = key;
            }

            var time = reader.GetInt64(timeOrdinal);
            if (reader.GetInt32(kindOrdinal) == 0)
            {
                sweep.Evaluate(time, row, read.Columns);
                for (var c = 0; c < staged.Length; c++)
                {
                    staged[c] = Typed(row[read.Columns[c]], plan.ColumnTypes[read.Columns[c]], name);
                }

                spill.Add(reader.GetInt64(rowOrdinal), staged);
            }
            else
            {
                var values = new FeatureValue[view.Columns.Length];
                for (var c = 0; c < eventColumns.Count; c++)
                {
                    var column = view.Columns[eventColumns[c]];
                    values[eventColumns[c]] = Read(reader, firstEvent + c, eventReaders[c], column.Type, name, column.Name, path);
                }

                sweep.Add(new AggregationEvent(key, time, values, 0));
            }

            if (++rows % _options.ProgressEvery == 0)
            {
                ct.ThrowIfCancellationRequested();
                progress?.Report(new MaterializeProgress(name, rows, total, clock.Elapsed));
            }
        }

        return rows;
    }

    /// <summary>Appends a pass's spilled rows to its staging table (its stream is closed by now).</summary>
    private static void AppendSpilled(DuckDBConnection connection, SpilledRows spill, string table, string stage, CancellationToken ct)
    {
        try
        {
            spill.AppendTo(connection, table, ct);
        }
        catch (DuckDBException e) when (OutOfMemory(e))
        {
            throw new DuckDbOutOfMemory(stage, e);
        }
        catch (DuckDBException e)
        {
            throw new RequestException("features", "offline_write_failed", $"'{stage}': writing the computed values failed: {e.Message}");
        }
    }

    /// <summary>
    /// On-demand features row by row: the inputs (request fields of the entity file, plain and aggregation
    /// features, join keys) are read joined by row id, evaluated as online, spilled to a file and appended to a
    /// staging table once the join's stream is closed (see <see cref="SpilledRows"/>).
    /// </summary>
    private void EvaluateOnDemand(DuckDBConnection connection, string temp, HistoricalPlan plan, EntityTable entities,
        IProgress<MaterializeProgress>? progress, Stopwatch clock, CancellationToken ct)
    {
        const string stage = "on-demand";
        var (expressions, from) = HistoricalQuery.Layout(plan, withOnDemand: false);
        var inputs = plan.OnDemand.SelectMany(o => o.Expression.Slots.Select(s => o.SlotColumns[s])).Distinct().Order().ToArray();
        var outputs = plan.OnDemand.Select(o => o.Output).ToArray();
        Execute(connection, HistoricalQuery.StagingTableSql(HistoricalQuery.OnDemandTable, plan, outputs), null,
            e => new RequestException("features", "offline_read_failed", e.Message), ct);
        var requestInputs = plan.RequestInputs.ToDictionary(i => i.Column);

        var row = new FeatureValue[plan.ColumnCount];
        var staged = new FeatureValue[outputs.Length];
        long rows = 0;
        progress?.Report(new MaterializeProgress(stage, 0, entities.Rows, clock.Elapsed));
        using var spill = new SpilledRows(Path.Combine(temp, "on_demand.rows"), outputs.Length);
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT e.rowid{string.Concat(inputs.Select(c => ", " + expressions[c]))} FROM {from}";
            command.UseStreamingMode = true;
            using var cancel = ct.Register(command.Cancel);
            using var reader = Guard(() => command.ExecuteReader(), stage, entities.Path, ct);
            var readers = new Func<DuckDBDataReader, int, FeatureValue>?[inputs.Length];
            for (var i = 0; i < inputs.Length; i++)
            {
                readers[i] = DuckDbValues.ReaderFor(reader.GetFieldType(1 + i));
            }

            while (Guard(reader.Read, stage, entities.Path, ct))
            {
                var rowId = reader.GetInt64(0);
                for (var i = 0; i < inputs.Length; i++)
                {
                    var c = inputs[i];
                    var column = requestInputs.TryGetValue(c, out var input) ? input.Name : plan.Online.FeatureNames.ElementAtOrDefault(c) ?? "input";
                    // A request field is coerced like a request's (an error names the file, column and row); features
                    // already have their declared types.
                    row[c] = Read(reader, 1 + i, readers[i], plan.ColumnTypes[c], stage, column, entities.Path, rowId);
                }

                plan.EvaluateOnDemand(row);
                for (var o = 0; o < outputs.Length; o++)
                {
                    staged[o] = Typed(row[outputs[o]], plan.ColumnTypes[outputs[o]], stage);
                }

                spill.Add(rowId, staged);
                if (++rows % _options.ProgressEvery == 0)
                {
                    ct.ThrowIfCancellationRequested();
                    progress?.Report(new MaterializeProgress(stage, rows, entities.Rows, clock.Elapsed));
                }
            }
        }

        AppendSpilled(connection, spill, HistoricalQuery.OnDemandTable, stage, ct);
        progress?.Report(new MaterializeProgress(stage, rows, entities.Rows, clock.Elapsed));
    }

    /// <summary>A cell converted to its declared type; a value that does not fit is an error naming the file, column (and row).</summary>
    private static FeatureValue Read(DuckDBDataReader reader, int ordinal, Func<DuckDBDataReader, int, FeatureValue>? read, FeatureType type,
        string view, string column, string path, long? row = null)
    {
        if (reader.IsDBNull(ordinal))
        {
            return FeatureValue.Null;
        }

        FeatureValue result;
        string? error;
        try
        {
            var ok = read is not null
                ? ValueCoercion.TryCoerce(read(reader, ordinal), type, out result, out error)
                : DuckDbValues.TryConvert(reader.GetValue(ordinal), type, out result, out error);
            if (ok)
            {
                return result;
            }
        }
        catch (InvalidCastException e)
        {
            error = e.Message;
        }

        var at = row is { } r ? $" row {r}" : "";
        throw new RequestException($"{view}.{column}", "wrong_type", $"'{view}': column '{column}'{at} in '{path}' does not fit its declared type {type}: {error}");
    }

    /// <summary>A computed value in its declared type's kind (the engine's and the evaluator's results already are).</summary>
    private static FeatureValue Typed(FeatureValue value, FeatureType type, string view) =>
        value.IsNull || value.Kind == FeatureValue.KindOf(type) || ValueCoercion.TryCoerce(value, type, out value, out _)
            ? value
            : throw new InvalidOperationException($"'{view}' computed a {value.Kind} for a column declared {type}");
}
