using System.Buffers.Binary;
using System.Text;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Observability;
using Freshet.Online;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Ingestion;

/// <summary>What one processed batch did.</summary>
public sealed record StreamBatchResult(int Events, int Aggregated, int Rejected, int PlainRowsApplied, IReadOnlyDictionary<string, long> NextOffsets)
{
    /// <summary>Events skipped by an aggregation view because they are before its backfill cut-over (counted once per view).</summary>
    public int EventsSkippedBeforeCutOver { get; init; }
}

/// <summary>
/// Runs a stream source (Kafka, NATS) into the views that read it, with an exactly-once effect (DESIGN §3): for each
/// polled batch it decodes the events, applies them to the tiles of every aggregation view of the source, and
/// writes the tile rows, the dead letters of rejected events and the source's next offsets in ONE atomic store
/// write. Positions belong to the store, not the broker: after a crash the source resumes from the stored offsets
/// (<see cref="ResumeFrom"/>), so an event is either in the tiles with its offset or in neither. Plain views read
/// by the source are written first with the newest-wins rule, which a replay cannot double count.
/// On a shared store (<see cref="IOnlineStore.IsShared"/>: several processors of one consumer group) tile rows
/// record the offsets they hold and are compare-and-set, and offsets advance after the rows (docs/scale-out.md).
/// </summary>
public sealed class StreamProcessor(FeatureStore store, string sourceName, IDeadLetterSink deadLetters)
{
    /// <summary>The namespace of stored source positions.</summary>
    public const string OffsetsNamespace = "__offsets";

    /// <summary>
    /// How long one poll may wait for the first event. Sources return as soon as one arrives, so this bounds only
    /// idle loops; it is long enough for NATS to long-poll (its client wants fetch expiries above 1 s) rather than
    /// repeat no-wait fetches, which would add their spacing to every event's latency.
    /// </summary>
    public static readonly TimeSpan PollWait = TimeSpan.FromSeconds(2);

    /// <summary>How much longer than the idle limit a catch-up run waits for a source that never starts consuming.</summary>
    public static readonly TimeSpan NotConsumingGrace = TimeSpan.FromMinutes(1);

    // The registry version the engine's cached cut-overs were read under: they are read again on each new version.
    private long _cutOverVersion = -1;

    /// <summary>The source's name.</summary>
    public string SourceName { get; } = sourceName;

    /// <summary>
    /// The next offset to read of each partition, from the store (null: never read, start at the beginning).
    /// Given to the event source, which calls it when partitions are assigned.
    /// </summary>
    public IReadOnlyDictionary<string, long?> ResumeFrom(IReadOnlyList<string> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var keys = partitions.Select(p => new OnlineKey(OffsetsNamespace, OffsetKey(SourceName, p))).ToArray();
        var rows = new byte[]?[keys.Length];
        store.Online.ReadAsync(keys, rows).AsTask().GetAwaiter().GetResult();
        var result = new Dictionary<string, long?>(StringComparer.Ordinal);
        for (var i = 0; i < partitions.Count; i++)
        {
            result[partitions[i]] = rows[i] is { Length: 8 } b ? BinaryPrimitives.ReadInt64LittleEndian(b) : null;
        }

        return result;
    }

    /// <summary>
    /// Polls and processes batches until <paramref name="cancellationToken"/> fires, or until no event has come for
    /// <paramref name="exitWhenIdle"/> while the source holds every partition (a catch-up run); acknowledges each batch to the broker after its commit.
    /// Returns the number of events processed.
    /// </summary>
    public async Task<long> RunAsync(IEventSource source, int maxBatch = 1000, TimeSpan? exitWhenIdle = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        long processed = 0;
        var idle = System.Diagnostics.Stopwatch.StartNew();
        var waiting = System.Diagnostics.Stopwatch.StartNew();
        while (!cancellationToken.IsCancellationRequested)
        {
            // Idle time counts only while the source holds every partition: a group join, a killed member's
            // partitions awaiting its session expiry, or a reconnect must not end a catch-up run before it has read
            // everything. A source that never gets them all still ends the run, after a longer, fixed wait.
            if (!source.HoldsAllPartitions)
            {
                idle.Restart();
            }
            else
            {
                waiting.Restart();
            }

            if (exitWhenIdle is { } limit && (idle.Elapsed >= limit || waiting.Elapsed >= limit + NotConsumingGrace))
            {
                break;
            }

            IReadOnlyList<SourceEvent> events;
            try
            {
                events = await source.PollAsync(maxBatch, PollWait, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            if (events.Count == 0)
            {
                continue;
            }

            var result = await ProcessAsync(events, cancellationToken);
            await source.AcknowledgeAsync(result.NextOffsets, cancellationToken);
            processed += events.Count;
            idle.Restart();
        }

        return processed;
    }

    /// <summary>Processes one batch: decode, apply, and commit tiles, dead letters and offsets atomically.</summary>
    public async Task<StreamBatchResult> ProcessAsync(IReadOnlyList<SourceEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        using var activity = FreshetTelemetry.ActivitySource.StartActivity("freshet.ingest.batch");
        activity?.SetTag("freshet.source", SourceName);
        activity?.SetTag("freshet.events", events.Count);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var registry = store.Registry;
        if (Interlocked.Exchange(ref _cutOverVersion, registry.Version) != registry.Version)
        {
            store.Engine.ForgetCachedViewState();
        }

        var source = registry.Index.Source(SourceName) ?? throw new InvalidOperationException($"source '{SourceName}' is not in the registry (version {registry.Version})");
        var aggregationViews = registry.Index.Repo.AggregationViews.Where(v => v.Source == SourceName && v.Online).Select(registry.Aggregation).ToList();
        var plainViews = registry.Index.Repo.FeatureViews.Where(v => v.Source == SourceName && v.Online).ToList();
        var decoder = Decoder(source, aggregationViews.SelectMany(v => v.Keys).Concat(plainViews.SelectMany(v => registry.Index.JoinKeys(v.Entities))));

        // Decode; the rows that decode form one column table whose row i is decoded[i].
        var letters = new List<RejectedEvent>();
        var decoded = new List<(SourceEvent Event, FeatureValue[] Row, long EventMicros)>(events.Count);
        var next = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            next[e.Partition] = Math.Max(next.GetValueOrDefault(e.Partition), e.Offset + 1);
            var fallback = e.BrokerTimestamp is { } t ? Micros.From(t) : (long?)null;
            var result = decoder.Decode(e.Value, fallback, out var row);
            if (result.Error is { } error)
            {
                letters.Add(new RejectedEvent(SourceName, error.Code, error.Reason, e.Value, null, e.Partition, e.Offset));
                continue;
            }

            decoded.Add((e, row!, result.EventTimeMicros));
        }

        var table = Table(decoder, source, [.. decoded.Select(d => d.Row)], [.. decoded.Select(d => d.EventMicros)]);
        var plainApplied = 0;
        var writes = new List<OnlineWrite>();
        foreach (var view in plainViews)
        {
            // Rows that break a data-quality rule are not written to the view; they are dead letters of the batch.
            var violations = new List<EventRejection>();
            writes.AddRange(new ViewRowEncoder(view, registry.Index.JoinKeys(view.Entities), source, registry.Checks(view)).Encode(table, SourceName, violations: violations));
            foreach (var r in violations)
            {
                var (e, _, _) = decoded[r.Row];
                letters.Add(new RejectedEvent(SourceName, r.Code, r.Reason, e.Value, view.Name, e.Partition, e.Offset));
            }
        }

        if (writes.Count > 0)
        {
            plainApplied = await store.Online.WriteAsync(writes, cancellationToken);
        }

        var batches = new List<(CompiledAggregationView, IReadOnlyList<AggregationEvent>)>(aggregationViews.Count);
        var viewCounts = new (int After, int Before, int Unusable)[aggregationViews.Count];
        var skipped = 0;
        foreach (var v in aggregationViews)
        {
            // Rows the view cannot use (a null join key it needs, a value of the wrong type) are dead letters too.
            var (usable, unusable) = AggregationEngine.ToEvents(v, table, rejectBadRows: true, SourceName);
            foreach (var r in unusable)
            {
                var (e, _, _) = decoded[r.Row];
                letters.Add(new RejectedEvent(SourceName, r.Code, r.Reason, e.Value, v.View.Name, e.Partition, e.Offset));
            }

            // Events before the view's cut-over are in its backfilled tiles already (lambda, DESIGN §3).
            var (after, before) = await store.Engine.SkipBeforeCutOverAsync(v, usable, cancellationToken);
            skipped += before;
            viewCounts[batches.Count] = (after.Count, before, unusable.Count);
            batches.Add((v, after));
        }

        // A shared store (docs/scale-out.md): tile rows carry their applied offsets and are compare-and-set, and the
        // source offsets move forward only after every row of the batch is stored. Embedded: one atomic batch.
        var shared = store.Online.IsShared;
        var offsets = shared ? [] : next.Select(p => new OnlinePut(OffsetsNamespace, OffsetKey(SourceName, p.Key), LittleEndian(p.Value))).ToList();
        var positions = shared ? new StreamPositions([.. decoded.Select(d => d.Event.Partition)], [.. decoded.Select(d => d.Event.Offset)]) : null;
        var applied = await store.Engine.ApplyAsync(batches, positions, rejections =>
        {
            for (var v = 0; v < rejections.Count; v++)
            {
                foreach (var r in rejections[v])
                {
                    var (e, _, _) = decoded[r.Row];
                    letters.Add(new RejectedEvent(SourceName, r.Code, r.Reason, e.Value, aggregationViews[v].View.Name, e.Partition, e.Offset));
                }
            }

            // On a shared store the letters are created after the rows, each with a compare-and-set (a replay
            // finds its letters there already); embedded, they go in the one atomic batch.
            var puts = new List<OnlinePut>(offsets);
            if (letters.Count > 0 && !shared)
            {
                puts.AddRange(deadLetters.Prepare(letters));
            }

            return puts;
        }, cancellationToken);

        if (shared)
        {
            await deadLetters.RecordSharedAsync(store.Online, letters, cancellationToken);
            await store.Engine.AdvanceOffsetsAsync([.. next.Select(p => (OffsetsNamespace, OffsetKey(SourceName, p.Key), p.Value))], cancellationToken);
        }

        RecordMetrics(events.Count, plainViews, writes, aggregationViews, viewCounts, letters, started);
        return new StreamBatchResult(events.Count, applied.Applied, letters.Count, plainApplied, next) { EventsSkippedBeforeCutOver = skipped };
    }

    private void RecordMetrics(int events, List<FeatureView> plainViews, List<OnlineWrite> writes, List<CompiledAggregationView> aggregationViews,
        (int After, int Before, int Unusable)[] viewCounts, List<RejectedEvent> letters, long started)
    {
        var source = new System.Diagnostics.TagList { { "source", SourceName } };
        FreshetTelemetry.StreamEvents.Add(events, source);
        FreshetTelemetry.StreamBatchDuration.Record(FreshetTelemetry.Seconds(started), source);
        if (!IngestMetrics.Enabled)
        {
            return;
        }

        foreach (var view in plainViews)
        {
            var count = 0;
            foreach (var w in writes)
            {
                count += w.View == view.Name ? 1 : 0;
            }

            IngestMetrics.Events(view.Name, IngestMetrics.Stream, "applied", count);
        }

        var lettersPerView = IngestMetrics.DeadLetters(letters, IngestMetrics.Stream);
        for (var v = 0; v < aggregationViews.Count; v++)
        {
            var name = aggregationViews[v].View.Name;
            var (after, before, unusable) = viewCounts[v];
            var rejected = lettersPerView.GetValueOrDefault(name);
            IngestMetrics.Events(name, IngestMetrics.Stream, "applied", after - (rejected - unusable));
            IngestMetrics.Events(name, IngestMetrics.Stream, "rejected", rejected);
            IngestMetrics.Events(name, IngestMetrics.Stream, "skipped", before);
        }
    }

    /// <summary>The store key of a source partition's position.</summary>
    public static byte[] OffsetKey(string source, string partition) => Encoding.UTF8.GetBytes(source + "\0" + partition);

    private static byte[] LittleEndian(long value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, value);
        return b;
    }

    /// <summary>The decoder of a source's events; the join keys its views need must be present.</summary>
    public static EventDecoder Decoder(DataSource source, IEnumerable<JoinKey> joinKeys)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(joinKeys);
        return new EventDecoder(source, joinKeys.Select(k => k.Name).Where(k => source.Schema.Any(f => f.Name == k)).Distinct(StringComparer.Ordinal));
    }

    /// <summary>Decoded rows as a column table: the decoder's fields, plus the event time under the source's timestamp field.</summary>
    public static ColumnTable Table(EventDecoder decoder, DataSource source, IReadOnlyList<FeatureValue[]> rows, IReadOnlyList<long> eventMicros)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(eventMicros);
        var columns = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
        for (var f = 0; f < decoder.Fields.Count; f++)
        {
            var column = new FeatureValue[rows.Count];
            for (var r = 0; r < rows.Count; r++)
            {
                column[r] = rows[r][f];
            }

            columns[decoder.Fields[f].Name] = column;
        }

        // The event time as decoded (from the timestamp field, or the broker's time when the source has none).
        columns[source.TimestampField ?? "event_timestamp"] = [.. eventMicros.Select(FeatureValue.FromTimestampMicros)];
        return new ColumnTable(columns);
    }
}
