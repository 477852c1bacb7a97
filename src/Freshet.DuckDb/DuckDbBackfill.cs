using System.Diagnostics;
using DuckDB.NET.Data;
using Freshet.Aggregates;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>What a backfill did.</summary>
/// <param name="View">The aggregation view.</param>
/// <param name="CutOver">The cut-over stored: the stream applies only events at or after it.</param>
/// <param name="RowsRead">Batch rows read (event time before the cut-over and within the view's retention, or null).</param>
/// <param name="EventsApplied">Events applied to tiles.</param>
/// <param name="Rejected">Rows recorded as dead letters (a null key or time, a value of the wrong type, too late).</param>
/// <param name="Entities">Distinct entities read.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record BackfillResult(string View, DateTimeOffset CutOver, long RowsRead, long EventsApplied, long Rejected, long Entities, TimeSpan Elapsed);

/// <summary>
/// Lambda backfill (DESIGN §3): reads an aggregation view's batch source with DuckDB, keeps the events before the
/// cut-over and within the view's retention, sorted by entity, and applies them in batches through the engine's
/// normal write path (<see cref="AggregationEngine.ApplyAsync(CompiledAggregationView, IReadOnlyList{AggregationEvent}, Func{IReadOnlyList{EventRejection}, IReadOnlyList{OnlinePut}}?, CancellationToken)"/>),
/// so the tiles are the ones streaming the same events would build. Then it stores the cut-over; the stream
/// paths skip the view's events before it.
/// </summary>
/// <remarks>
/// The rule against double counting: a view that already has tiles (or a cut-over) is refused, unless
/// <c>replace</c> is set, which first deletes the view's online rows; a replace is refused when the stream has
/// applied an event at or after the new cut-over, since deleting its tiles would lose it. Memory is bounded by
/// the batch size: DuckDB sorts (spilling to disk if it must) and the rows stream out.
/// </remarks>
public sealed class DuckDbBackfill(int batchSize = 10_000)
{
    /// <summary>
    /// Backfills <paramref name="viewName"/> from its batch source up to (excluding) <paramref name="cutOver"/>.
    /// Errors are <see cref="RequestException"/>s naming the view (<c>unknown_view</c>, <c>no_batch_source</c>,
    /// <c>cut_over_in_future</c>, <c>already_backfilled</c>, <c>cut_over_too_early</c>, and the source errors of
    /// <see cref="DuckDbOfflineSource"/>).
    /// </summary>
    public async Task<BackfillResult> RunAsync(FeatureStore store, string viewName, DateTimeOffset cutOver, bool replace = false,
        IProgress<MaterializeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(viewName);
        var clock = Stopwatch.StartNew();
        var registry = store.Registry;
        if (registry.Index.View(viewName)?.View is not AggregationView definition)
        {
            throw new RequestException("view", "unknown_view", registry.Index.View(viewName) is null
                ? $"unknown aggregation view '{viewName}'"
                : $"'{viewName}' is not an aggregation view; backfill builds the tiles of aggregation views (plain views use materialize)");
        }

        var view = registry.Aggregation(definition);
        var source = BatchSource(registry.Index, definition)
            ?? throw new RequestException("view", "no_batch_source", $"aggregation view '{viewName}' reads source '{definition.Source}', which has no batch_source (a file source with the same events) to backfill from");
        var now = Micros.From(store.Now);
        var cut = Micros.From(cutOver);
        if (cut > now)
        {
            throw new RequestException("until", "cut_over_in_future", $"view '{viewName}': the cut-over {Micros.ToRfc3339(cut)} is after now ({Micros.ToRfc3339(now)}); the batch source cannot hold events the stream has not delivered yet");
        }

        await CheckNotBackfilledAsync(store, viewName, cut, replace, cancellationToken);

        var offline = store.Options.OfflineSource as DuckDbOfflineSource;
        var s3 = S3Glob.IsS3(source.Path) ? (offline ?? new DuckDbOfflineSource()).S3For(store.RepoDirectory) : null;
        using var path = await DuckDbSql.ResolveAsync(source, store.RepoDirectory, viewName, s3, cancellationToken);
        try
        {
            var (rows, applied, rejected, entities) = await Task.Run(() => ApplyAllAsync(store, view, source, path.Path, cut, now - view.MaxRetentionMicros, progress, clock, cancellationToken), cancellationToken);
            await store.Online.PutAsync([new OnlinePut(AggregationEngine.CutOverNamespace, AggregationEngine.CutOverKey(viewName), AggregationEngine.EncodeCutOver(cut))], cancellationToken);
            store.Engine.SetCutOver(viewName, cut);
            return new BackfillResult(viewName, Micros.ToDateTimeOffset(cut), rows, applied, rejected, entities, clock.Elapsed);
        }
        catch (RequestException e)
        {
            throw path.Describe(e);
        }
    }

    /// <summary>Refuses a second backfill over existing tiles (it would double count) unless <paramref name="replace"/>, which deletes them first.</summary>
    private static async Task CheckNotBackfilledAsync(FeatureStore store, string view, long cut, bool replace, CancellationToken ct)
    {
        var rows = new byte[]?[2];
        await store.Online.ReadAsync([new OnlineKey(AggregationEngine.FreshnessNamespace, System.Text.Encoding.UTF8.GetBytes(view)), new OnlineKey(AggregationEngine.CutOverNamespace, AggregationEngine.CutOverKey(view))], rows, ct);
        var freshness = Freshness.Decode(view, rows[0]);
        var stored = await store.Engine.CutOverAsync(view, ct);
        if (freshness is null && stored is null)
        {
            return;
        }

        if (!replace)
        {
            var what = stored is { } s ? $"was backfilled up to {Micros.ToRfc3339(s)}" : $"already has tiles (newest event {Micros.ToRfc3339(Micros.From(freshness!.NewestEvent))})";
            throw new RequestException("view", "already_backfilled", $"view '{view}' {what}; backfilling again would count those events twice. Use --replace to delete its online rows and backfill from scratch");
        }

        if (freshness is not null && Micros.From(freshness.NewestEvent) >= cut)
        {
            throw new RequestException("until", "cut_over_too_early", $"view '{view}': the stream has applied events up to {Micros.ToRfc3339(Micros.From(freshness.NewestEvent))}; a replace with cut-over {Micros.ToRfc3339(cut)} would delete them. Use a cut-over after that time");
        }

        await AggregationEngine.DeleteViewDataAsync(store.Online, view, ct);
        store.Engine.ForgetCachedViewState(view);
    }

    private async Task<(long Rows, long Applied, long Rejected, long Entities)> ApplyAllAsync(FeatureStore store, CompiledAggregationView view, FileSource source, string path,
        long cut, long oldest, IProgress<MaterializeProgress>? progress, Stopwatch clock, CancellationToken ct)
    {
        var name = view.View.Name;
        using var connection = DuckDbSql.Open();
        var scan = DuckDbSql.Scan(source.Format);
        var types = LatestQuery.Describe(connection, scan, name, path);
        foreach (var key in view.Keys)
        {
            LatestQuery.Require(types, key.Name, name, source, path);
        }

        var timeType = LatestQuery.Require(types, view.TimestampField, name, source, path);
        var time = LatestQuery.Timestamp(timeType, view.TimestampField) ?? throw LatestQuery.NotATimestamp(name, view.TimestampField, timeType, path);
        var columns = view.Columns.Where(c => c.Name != view.TimestampField && types.ContainsKey(c.Name)).Select(c => c.Name)
            .Concat(view.Keys.Select(k => k.Name)).Distinct(StringComparer.Ordinal).ToArray();

        // Rows with a null time are kept so they become dead letters with a reason, not vanish.
        var where = $"({time.Expression} IS NULL OR ({time.Expression} < {time.Bound("$cut")} AND {time.Expression} >= {time.Bound("$oldest")}))";
        var orderBy = string.Join(", ", view.Keys.Select(k => DuckDbSql.Identifier(k.Name)).Append("__t"));
        var select = string.Join(", ", columns.Select(DuckDbSql.Identifier));
        long? total;
        using (var count = connection.CreateCommand())
        {
            count.CommandText = $"SELECT count(*) FROM {scan} WHERE {where}";
            Bind(count, path, cut, oldest);
            total = LatestQuery.Guard(() => Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture), name, path, ct);
        }

        progress?.Report(new MaterializeProgress(name, 0, total, clock.Elapsed));
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {select}, epoch_us({time.Expression}) AS __t FROM {scan} WHERE {where} ORDER BY {orderBy}";
        command.UseStreamingMode = true;
        Bind(command, path, cut, oldest);
        using var cancel = ct.Register(command.Cancel);
        using var reader = LatestQuery.Guard(() => command.ExecuteReader(), name, path, ct);

        var batch = NewBatch(columns.Length + 1);
        long rows = 0, applied = 0, rejected = 0, entities = 0;
        byte[]? lastEntity = null;
        var filled = 0;
        while (LatestQuery.Guard(reader.Read, name, path, ct))
        {
            for (var c = 0; c < columns.Length; c++)
            {
                batch[c][filled] = Cell(reader, c);
            }

            batch[columns.Length][filled] = reader.IsDBNull(columns.Length) ? FeatureValue.Null : FeatureValue.FromTimestampMicros(reader.GetInt64(columns.Length));
            rows++;
            if (++filled == batchSize)
            {
                var r = await ApplyAsync(store, view, source, Table(columns, view.TimestampField, batch, filled), lastEntity, ct);
                (applied, rejected, entities, lastEntity) = (applied + r.Applied, rejected + r.Rejected, entities + r.Entities, r.LastEntity);
                filled = 0;
                progress?.Report(new MaterializeProgress(name, rows, total, clock.Elapsed));
            }
        }

        if (filled > 0)
        {
            var r = await ApplyAsync(store, view, source, Table(columns, view.TimestampField, batch, filled), lastEntity, ct);
            (applied, rejected, entities) = (applied + r.Applied, rejected + r.Rejected, entities + r.Entities);
        }

        progress?.Report(new MaterializeProgress(name, rows, total, clock.Elapsed));
        return (rows, applied, rejected, entities);
    }

    /// <summary>
    /// One batch through the engine; its rejections (unusable rows, and events the engine refuses) are dead
    /// letters written in the same atomic batch as the tiles. Entities are counted by change of key in the
    /// sorted stream; an entity spanning two batches is read, merged and written twice, with the same result.
    /// </summary>
    private static async Task<(long Applied, long Rejected, long Entities, byte[]? LastEntity)> ApplyAsync(FeatureStore store, CompiledAggregationView view, FileSource source,
        ColumnTable table, byte[]? lastEntity, CancellationToken ct)
    {
        var (events, unusable) = AggregationEngine.ToEvents(view, table, rejectBadRows: true, source.Name);
        long entities = 0;
        foreach (var e in events)
        {
            if (lastEntity is null || !e.EntityKey.AsSpan().SequenceEqual(lastEntity))
            {
                entities++;
                lastEntity = e.EntityKey;
            }
        }

        var name = view.View.Name;
        var result = await store.Engine.ApplyAsync(view, events, refused =>
            store.Options.DeadLetters is { } sink && (unusable.Count > 0 || refused.Count > 0)
                ? sink.Prepare([.. unusable.Concat(refused).Select(r => new RejectedEvent(source.Name, r.Code, r.Reason, RowJson.Write(table, r.Row), name))])
                : [], ct);
        return (result.Applied, unusable.Count + result.Rejected.Count, entities, lastEntity);
    }

    private static void Bind(DuckDBCommand command, string path, long cut, long oldest)
    {
        command.Parameters.Add(new DuckDBParameter("path", path));
        command.Parameters.Add(new DuckDBParameter("cut", cut));
        command.Parameters.Add(new DuckDBParameter("oldest", oldest));
    }

    /// <summary>A cell as DuckDB gives it; <see cref="AggregationEngine.ToEvents"/> coerces it to the declared type (or rejects the row).</summary>
    private static FeatureValue Cell(DuckDBDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return FeatureValue.Null;
        }

        var value = reader.GetValue(ordinal);
        try
        {
            return DuckDbValues.FromObject(value);
        }
        catch (InvalidCastException)
        {
            // A type with no feature value: as text, which the declared type then rejects with a reason.
            return FeatureValue.FromString(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "");
        }
    }

    private FeatureValue[][] NewBatch(int columns)
    {
        var batch = new FeatureValue[columns][];
        for (var c = 0; c < columns; c++)
        {
            batch[c] = new FeatureValue[batchSize];
        }

        return batch;
    }

    private static ColumnTable Table(string[] columns, string timestampField, FeatureValue[][] batch, int rows)
    {
        var table = new Dictionary<string, FeatureValue[]>(columns.Length + 1, StringComparer.Ordinal);
        for (var c = 0; c < columns.Length; c++)
        {
            table[columns[c]] = batch[c][..rows];
        }

        table[timestampField] = batch[columns.Length][..rows];
        return new ColumnTable(table);
    }

    /// <summary>The file source holding the view's events: its own batch_source, else its source's (or the source itself when it is a file).</summary>
    private static FileSource? BatchSource(RepoIndex index, AggregationView view) => view.BatchSource is { } own
        ? index.Source(own) as FileSource
        : index.Source(view.Source) switch
        {
            FileSource f => f,
            PushSource { BatchSource: { } b } => index.Source(b) as FileSource,
            KafkaSource { BatchSource: { } b } => index.Source(b) as FileSource,
            NatsSource { BatchSource: { } b } => index.Source(b) as FileSource,
            _ => null,
        };
}
