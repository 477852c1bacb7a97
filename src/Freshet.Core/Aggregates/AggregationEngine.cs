using Freshet.Expressions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>One event of an aggregation view: its entity key, event time and source column values.</summary>
public readonly record struct AggregationEvent(byte[] EntityKey, long EventMicros, FeatureValue[] Values, int Row);

/// <summary>An event the engine did not apply, with a stable code (<c>too_late</c>, <c>too_far_in_future</c>) and a plain reason.</summary>
public sealed record EventRejection(int Row, string Code, string Reason);

/// <summary>What an apply did.</summary>
public sealed record AggregationApplyResult(int Applied, IReadOnlyList<EventRejection> Rejected, int TilesCollected)
{
    /// <summary>
    /// Of the plain rows given to <see cref="AggregationEngine.WriteAndApplyAsync"/>, how many replaced (or created)
    /// a stored row (<see cref="IOnlineStore.WriteAsync"/>'s count); 0 for the other applies.
    /// </summary>
    public int RowsWritten { get; init; }
}

/// <summary>
/// How fresh a view is: the newest event time applied to it and when that apply committed. The processing lag is
/// <c>AppliedAt − NewestEvent</c> at that moment; the age of the data now is <c>now − NewestEvent</c>.
/// </summary>
public sealed record Freshness(string View, DateTimeOffset NewestEvent, DateTimeOffset AppliedAt)
{
    /// <summary>The lag of the last apply: how long after its newest event it became visible.</summary>
    public TimeSpan Lag => AppliedAt - NewestEvent;

    internal static byte[] Encode(long newestMicros, long appliedMicros)
    {
        var b = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(b, newestMicros);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), appliedMicros);
        return b;
    }

    /// <summary>Reads a stored freshness row; null when it is not one.</summary>
    public static Freshness? Decode(string view, byte[]? row) => row is { Length: 16 }
        ? new Freshness(view, Micros.ToDateTimeOffset(System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(row)), Micros.ToDateTimeOffset(System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(row.AsSpan(8))))
        : null;
}

/// <summary>Settings of the engine.</summary>
public sealed record AggregationEngineOptions
{
    /// <summary>How far in the future an event time may be and still be applied (DESIGN default: 5 minutes).</summary>
    public TimeSpan FutureTolerance { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// The streaming aggregation engine (DESIGN §3): events go into tiles of their view's hops, one tile row per
/// entity and hop in the online store; a window's value at <c>T</c> merges the tiles that start in
/// [floor_H(T) − W, floor_H(T)], i.e. every event with <c>floor_H(T) − W ≤ t &lt; T</c> when no event later than
/// <c>T</c> has been applied. Tiles older than the longest window + hop + allowed lateness are collected.
/// Updates of one entity are serialized in this process (striped locks). An embedded store has one writing
/// process, so read-modify-write is safe; on a shared store rows are compare-and-set (docs/scale-out.md).
/// </summary>
public sealed partial class AggregationEngine(IOnlineStore store, TimeProvider clock, AggregationEngineOptions? options = null)
{
    /// <summary>The namespace of per-view freshness rows.</summary>
    public const string FreshnessNamespace = "__freshness";

    private const int Stripes = 1024;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _newest = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim[] _locks = [.. Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly AggregationEngineOptions _options = options ?? new AggregationEngineOptions();

    /// <summary>
    /// Converts column-major rows (a push, a decoded stream batch, a batch file) into events. Rows that cannot
    /// be used (a missing or null join key or event time, a value of the wrong type) are a
    /// <see cref="RequestException"/> when <paramref name="rejectBadRows"/> is false (a push is refused whole),
    /// else rejections with codes <c>missing_field</c>, <c>wrong_type</c>. Rows that break a data-quality rule of the
    /// source's schema are always rejections (<c>rule_violation</c>).
    /// </summary>
    public static (List<AggregationEvent> Events, List<EventRejection> Rejected) ToEvents(CompiledAggregationView view, ColumnTable rows, bool rejectBadRows, string field = "df")
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(rows);
        var events = new List<AggregationEvent>(rows.RowCount);
        var rejected = new List<EventRejection>();
        var keyColumns = view.Keys.Select(k => rows.Column(k.Name)).ToArray();
        var valueColumns = view.Columns.Select(c => rows.Column(c.Name)).ToArray();
        var times = rows.Column(view.TimestampField);
        var keyValues = new FeatureValue[view.Keys.Length];
        for (var r = 0; r < rows.RowCount; r++)
        {
            string? code = null, reason = null, at = null;
            for (var k = 0; k < view.Keys.Length && code is null; k++)
            {
                var column = keyColumns[k];
                if (column is null || column[r].IsNull)
                {
                    (code, reason, at) = ("missing_field", $"join key '{view.Keys[k].Name}' is missing or null in row {r}", $"{field}.{view.Keys[k].Name}");
                }
                else if (!ValueCoercion.TryCoerce(column[r], view.Keys[k].Type, out keyValues[k], out var error))
                {
                    (code, reason, at) = ("wrong_type", $"join key '{view.Keys[k].Name}' row {r}: {error}", $"{field}.{view.Keys[k].Name}[{r}]");
                }
            }

            long eventMicros = 0;
            if (code is null)
            {
                if (times is null || times[r].IsNull)
                {
                    (code, reason, at) = ("missing_field", $"the event time '{view.TimestampField}' is missing or null in row {r}", $"{field}.{view.TimestampField}");
                }
                else if (!ValueCoercion.TryCoerce(times[r], FeatureType.Of(ScalarKind.Timestamp), out var t, out var error))
                {
                    (code, reason, at) = ("wrong_type", $"event time '{view.TimestampField}' row {r}: {error}", $"{field}.{view.TimestampField}[{r}]");
                }
                else
                {
                    eventMicros = t.AsInt64();
                }
            }

            var values = new FeatureValue[view.Columns.Length];
            for (var c = 0; c < view.Columns.Length && code is null; c++)
            {
                var column = valueColumns[c];
                if (column is not null && !ValueCoercion.TryCoerce(column[r], view.Columns[c].Type, out values[c], out var error))
                {
                    (code, reason, at) = ("wrong_type", $"column '{view.Columns[c].Name}' row {r}: {error}", $"{field}.{view.Columns[c].Name}[{r}]");
                }
            }

            // A value that breaks a data-quality rule is a rejection whatever rejectBadRows says: the row is not
            // applied, the others are (docs/quality.md#rules).
            for (var i = 0; i < view.Checks.Length && code is null; i++)
            {
                var (c, check) = view.Checks[i];
                if (check.Check(values[c]) is { } violation)
                {
                    rejected.Add(new EventRejection(r, Quality.FieldCheck.ViolationCode, violation));
                    code = Quality.FieldCheck.ViolationCode;
                }
            }

            if (code == Quality.FieldCheck.ViolationCode)
            {
                continue;
            }

            if (code is not null)
            {
                if (!rejectBadRows)
                {
                    throw new RequestException(at!, code, reason!);
                }

                rejected.Add(new EventRejection(r, code, reason!));
                continue;
            }

            events.Add(new AggregationEvent(EntityKeyCodec.Encode(keyValues), eventMicros, values, r));
        }

        return (events, rejected);
    }

    /// <summary>
    /// Applies events to their tiles. Events too old for every resolution's retention (<c>too_late</c>) or too far
    /// in the future (<c>too_far_in_future</c>) are rejected, never dropped silently. <paramref name="alsoPut"/> is
    /// called with the rejections before the commit; the rows it returns (source offsets, dead letters) are
    /// written in the same atomic batch as the tiles (DESIGN: exactly-once effect).
    /// </summary>
    public ValueTask<AggregationApplyResult> ApplyAsync(CompiledAggregationView view, IReadOnlyList<AggregationEvent> events,
        Func<IReadOnlyList<EventRejection>, IReadOnlyList<OnlinePut>>? alsoPut = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(view);
        return ApplyAsync([(view, events)], alsoPut is null ? null : r => alsoPut(r[0]), cancellationToken);
    }

    /// <summary>
    /// Applies events to the tiles of several views in one atomic batch (a stream feeding several views): the
    /// rejections are given per view, in the order of <paramref name="batches"/>.
    /// </summary>
    public ValueTask<AggregationApplyResult> ApplyAsync(IReadOnlyList<(CompiledAggregationView View, IReadOnlyList<AggregationEvent> Events)> batches,
        Func<IReadOnlyList<IReadOnlyList<EventRejection>>, IReadOnlyList<OnlinePut>>? alsoPut = null, CancellationToken cancellationToken = default) =>
        ApplyAsync(batches, null, alsoPut, cancellationToken);

    /// <summary>
    /// Applies events of a stream batch whose rows came from <paramref name="positions"/>. On an embedded store this
    /// is the apply above (one atomic batch; the caller adds its offsets to <paramref name="alsoPut"/>). On a shared
    /// store (<see cref="IOnlineStore.IsShared"/>) each tile row keeps the highest offset applied per partition and
    /// takes only events above it, and is stored with <see cref="IOnlineStore.SwapAsync"/> (re-read and re-applied
    /// when another writer got there first); the rows of <paramref name="alsoPut"/> are put after the tiles, and
    /// the caller advances its offsets only after this returns (docs/scale-out.md).
    /// </summary>
    public ValueTask<AggregationApplyResult> ApplyAsync(IReadOnlyList<(CompiledAggregationView View, IReadOnlyList<AggregationEvent> Events)> batches,
        StreamPositions? positions, Func<IReadOnlyList<IReadOnlyList<EventRejection>>, IReadOnlyList<OnlinePut>>? alsoPut = null, CancellationToken cancellationToken = default) =>
        ApplyCoreAsync([], batches, positions, alsoPut, cancellationToken);

    /// <summary>
    /// Writes plain rows (newest wins, <see cref="IOnlineStore.WriteAsync"/>) and applies events to the tiles of
    /// several views: a push feeding plain and aggregation views. On an embedded store the rows, the tiles, the
    /// freshness rows and the rows of <paramref name="alsoPut"/> are one call of
    /// <see cref="IOnlineStore.WriteAndPutAsync"/> (RocksDB: one synced batch, all or none). On a shared store the
    /// rows are written first, then the tiles are applied as by <see cref="ApplyAsync(IReadOnlyList{ValueTuple{CompiledAggregationView, IReadOnlyList{AggregationEvent}}}, StreamPositions?, Func{IReadOnlyList{IReadOnlyList{EventRejection}}, IReadOnlyList{OnlinePut}}?, CancellationToken)"/>.
    /// <see cref="AggregationApplyResult.RowsWritten"/> counts the rows that replaced stored ones.
    /// </summary>
    public ValueTask<AggregationApplyResult> WriteAndApplyAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<(CompiledAggregationView View, IReadOnlyList<AggregationEvent> Events)> batches,
        Func<IReadOnlyList<IReadOnlyList<EventRejection>>, IReadOnlyList<OnlinePut>>? alsoPut = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        return ApplyCoreAsync(writes, batches, null, alsoPut, cancellationToken);
    }

    private async ValueTask<AggregationApplyResult> ApplyCoreAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<(CompiledAggregationView View, IReadOnlyList<AggregationEvent> Events)> batches,
        StreamPositions? positions, Func<IReadOnlyList<IReadOnlyList<EventRejection>>, IReadOnlyList<OnlinePut>>? alsoPut, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batches);

        // A shared store keeps its order of old: the plain rows first, then the tiles with compare-and-set.
        var written = 0;
        if (store.IsShared && writes.Count > 0)
        {
            written = await store.WriteAsync(writes, cancellationToken);
            writes = [];
        }

        var now = Micros.From(clock.GetUtcNow());
        var future = now + Micros.Of(_options.FutureTolerance);
        var rejections = new List<IReadOnlyList<EventRejection>>(batches.Count);
        var groups = new List<TileGroup>();
        var members = new int[batches.Count][];

        // One small number per view name: the applied count deduplicates (view, row) only when a view repeats.
        var viewSlots = new Dictionary<string, int>(StringComparer.Ordinal);
        var batchSlots = new int[batches.Count];
        for (var b = 0; b < batches.Count; b++)
        {
            var name = batches[b].View.View.Name;
            if (!viewSlots.TryGetValue(name, out var slot))
            {
                slot = viewSlots.Count;
                viewSlots[name] = slot;
            }

            batchSlots[b] = slot;
        }

        for (var b = 0; b < batches.Count; b++)
        {
            var (view, events) = batches[b];
            rejections.Add(Admit(view, events, now, future, out var entityOfEvent, out var entities));
            members[b] = GroupByEntity(entityOfEvent, entities.Count, out var offsets);

            // Every resolution of an entity gets a row, even when the event is too old for its windows: an
            // entity that was seen then reads as 0 / null for a window without events, not NOT_FOUND.
            for (var entity = 0; entity < entities.Count; entity++)
            {
                foreach (var resolution in view.Resolutions)
                {
                    groups.Add(new TileGroup(b, resolution, CompiledAggregationView.TileKey(resolution, entities[entity]), offsets[entity], offsets[entity + 1] - offsets[entity]));
                }
            }
        }

        var extra = alsoPut?.Invoke(rejections) ?? [];
        var allRejected = new List<EventRejection>();
        foreach (var r in rejections)
        {
            allRejected.AddRange(r);
        }

        if (groups.Count == 0)
        {
            written += await WriteAndPutAsync(writes, extra, cancellationToken);

            return new AggregationApplyResult(0, allRejected, 0) { RowsWritten = written };
        }

        // Stripes are taken in ascending order, each once, so two applies never wait on each other in a cycle.
        var stripes = new int[groups.Count];
        var keys = new OnlineKey[groups.Count];
        for (var g = 0; g < groups.Count; g++)
        {
            var name = batches[groups[g].Batch].View.View.Name;
            stripes[g] = Stripe(name, groups[g].StoreKey);
            keys[g] = new OnlineKey(name, groups[g].StoreKey);
        }

        Array.Sort(stripes);
        var distinct = 0;
        for (var i = 0; i < stripes.Length; i++)
        {
            if (i == 0 || stripes[i] != stripes[i - 1])
            {
                stripes[distinct++] = stripes[i];
            }
        }

        var taken = 0;
        try
        {
            for (; taken < distinct; taken++)
            {
                await _locks[stripes[taken]].WaitAsync(cancellationToken);
            }

            if (store.IsShared)
            {
                return await ApplySharedAsync(batches, positions, groups, members, keys, extra, now, batchSlots, viewSlots.Count, allRejected, cancellationToken) with { RowsWritten = written };
            }

            var stored = new byte[]?[keys.Length];
            await store.ReadAsync(keys, stored, cancellationToken);
            var puts = new List<OnlinePut>(groups.Count + extra.Count + batches.Count);
            var collected = 0;
            var applied = new bool[batches.Count][];
            for (var b = 0; b < batches.Count; b++)
            {
                applied[b] = new bool[batches[b].Events.Count];
            }

            using (var updater = new TileRowUpdater())
            {
                for (var g = 0; g < groups.Count; g++)
                {
                    var group = groups[g];
                    var (view, events) = batches[group.Batch];
                    var row = updater.Update(view, group.Resolution, stored[g], events, members[group.Batch].AsSpan(group.From, group.Count), now, applied[group.Batch], out var dropped);
                    collected += dropped;
                    puts.Add(new OnlinePut(view.View.Name, group.StoreKey, row));
                }
            }

            // Freshness per view: the newest event time applied and when, in the same batch.
            for (var b = 0; b < batches.Count; b++)
            {
                var (view, events) = batches[b];
                var newest = long.MinValue;
                var flags = applied[b];
                for (var i = 0; i < flags.Length; i++)
                {
                    if (flags[i] && events[i].EventMicros > newest)
                    {
                        newest = events[i].EventMicros;
                    }
                }

                if (newest != long.MinValue)
                {
                    var previous = _newest.GetValueOrDefault(view.View.Name, long.MinValue);
                    newest = Math.Max(newest, previous);
                    _newest[view.View.Name] = newest;
                    puts.Add(new OnlinePut(FreshnessNamespace, System.Text.Encoding.UTF8.GetBytes(view.View.Name), Freshness.Encode(newest, now)));
                }
            }

            // The plain rows of a push join the tiles: one call, one durable batch where the store can.
            puts.AddRange(extra);
            written = await WriteAndPutAsync(writes, puts, cancellationToken);
            return new AggregationApplyResult(CountApplied(batches, batchSlots, viewSlots.Count, applied), allRejected, collected) { RowsWritten = written };
        }
        finally
        {
            for (var i = 0; i < taken; i++)
            {
                _locks[stripes[i]].Release();
            }
        }
    }

    // Plain rows and state rows in one call when there are both; a stream batch (no rows) stays a plain put.
    private async ValueTask<int> WriteAndPutAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken)
    {
        if (writes.Count > 0)
        {
            return puts.Count > 0 ? await store.WriteAndPutAsync(writes, puts, cancellationToken) : await store.WriteAsync(writes, cancellationToken);
        }

        if (puts.Count > 0)
        {
            await store.PutAsync(puts, cancellationToken);
        }

        return 0;
    }

    private static bool WithinAnyRetention(CompiledAggregationView view, long eventMicros, long now)
    {
        foreach (var r in view.Resolutions)
        {
            if (eventMicros >= now - r.RetentionMicros)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Adds one event to its tile in every state of the resolution whose filter it passes; false when every filter refused it.</summary>
    internal static bool Add(CompiledAggregationView view, Resolution resolution, TileSet tiles, AggregationEvent e)
    {
        var tile = tiles.Tile(FloorTile(e.EventMicros, resolution.HopMicros));
        tile.MaxEventMicros = Math.Max(tile.MaxEventMicros, e.EventMicros);
        var any = false;
        for (var i = 0; i < resolution.States.Length; i++)
        {
            var spec = resolution.States[i];
            if (spec.Filter is { } filter)
            {
                var pass = filter.Evaluate(new EventValues(e.Values));
                if (pass.IsNull || !pass.AsBool())
                {
                    continue;
                }
            }

            // A count without a column counts events: it is given the event time as its (non-null) value.
            var value = spec.Column >= 0 ? e.Values[spec.Column] : FeatureValue.FromTimestampMicros(e.EventMicros);
            tile.State(i).Add(value, e.EventMicros);
            any = true;
        }

        return any;
    }

    /// <summary>
    /// The value of aggregation <paramref name="slot"/> at <paramref name="atMicros"/> from an entity's tile row at
    /// the slot's resolution, merged into <paramref name="accumulator"/> (a state of the slot's function, cleared
    /// here). Returns the value (null when the window holds nothing, but 0 for counts) and the newest event time
    /// of the merged tiles.
    /// </summary>
    public static (FeatureValue Value, long EventMicros) Evaluate(CompiledAggregationView view, AggregationSlot slot, ReadOnlySpan<byte> row, long atMicros, AggregateState accumulator)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(slot);
        ArgumentNullException.ThrowIfNull(accumulator);
        var resolution = view.Resolutions[slot.Resolution];
        var current = FloorTile(atMicros, resolution.HopMicros);
        accumulator.Clear();
        var newest = TileRow.MergeWindow(row, resolution.States[slot.State].Id, current - slot.WindowMicros, current, accumulator);
        return (accumulator.Result(), newest);
    }

    /// <summary>
    /// The value of <paramref name="slot"/> at <paramref name="atMicros"/> from one entity's events, computed by the
    /// same tile code as online from the events strictly before <paramref name="atMicros"/> (the offline path and
    /// the reference of consistency checks).
    /// </summary>
    public static FeatureValue ComputeAt(CompiledAggregationView view, AggregationSlot slot, IEnumerable<AggregationEvent> events, long atMicros)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(slot);
        ArgumentNullException.ThrowIfNull(events);
        var resolution = view.Resolutions[slot.Resolution];
        var tiles = new TileSet(resolution);
        foreach (var e in events)
        {
            if (e.EventMicros < atMicros)
            {
                Add(view, resolution, tiles, e);
            }
        }

        var accumulator = resolution.States[slot.State].Create();
        return Evaluate(view, slot, TileRow.Encode(tiles), atMicros, accumulator).Value;
    }

    /// <summary>The start of the tile holding <paramref name="micros"/>: floor to a multiple of the hop (also before 1970).</summary>
    public static long FloorTile(long micros, long hopMicros) => micros - (((micros % hopMicros) + hopMicros) % hopMicros);

    private static int Stripe(string view, byte[] key)
    {
        var h = (uint)HashCode.Combine(view.Length, view.GetHashCode(StringComparison.Ordinal));
        foreach (var b in key)
        {
            h = (h * 31) + b;
        }

        return (int)(h % Stripes);
    }

    /// <summary>An event's values as expression inputs (slot = source column position).</summary>
    private sealed class EventValues(FeatureValue[] values) : IValueSource
    {
        public FeatureValue Get(int slot) => values[slot];
    }
}
