using Freshet.Expressions;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// Applies one batch's events of one entity to its stored tile row at one resolution without materializing the
/// row (the update path of <see cref="AggregationEngine"/>). The row is walked once in tile order and written
/// anew: runs of tiles the batch does not touch are copied as bytes; in a tile it touches, only the states an
/// event reaches are decoded, into one reused state per state spec, updated and written back (the others are
/// copied); new tiles are written from the events; tiles past retention are left out.
/// </summary>
/// <remarks>
/// The result is the row that decoding it into a <see cref="TileSet"/>, adding the events, dropping expired
/// tiles and encoding would give (<see cref="Rebuild"/>, which rows in another layout still take: states added
/// or removed, tiles out of order), tile for tile and state for state. The one difference is in bytes, not
/// values: an untouched float sum keeps its stored (sum, compensation) pair where a re-encode would renormalize
/// it to another pair with the same exact total. One instance per apply: not thread-safe.
/// </remarks>
internal sealed partial class TileRowUpdater : IDisposable
{
    private readonly RowBuffer _output = new();
    private readonly Dictionary<Resolution, AggregateState[]> _states = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Resolution, Shape[]> _shapes = new(ReferenceEqualityComparer.Instance);
    private readonly FilterInput _input = new();
    private Shape[] _shape = [];
    private TileEvent[] _order = new TileEvent[64];
    private int[] _stateBounds = new int[16];

    /// <summary>How many stored rows took <see cref="Rebuild"/> (another layout): tests check the fast path is the one taken.</summary>
    internal int Rebuilds { get; private set; }

    /// <summary>
    /// The new row of <paramref name="stored"/> (null: none yet) with the events <paramref name="members"/>
    /// (indexes into <paramref name="events"/>, ascending) added, those older than the resolution's retention
    /// left out; sets <paramref name="applied"/>[index] for every event some state took.
    /// </summary>
    public byte[] Update(CompiledAggregationView view, Resolution resolution, byte[]? stored, IReadOnlyList<AggregationEvent> events,
        ReadOnlySpan<int> members, long now, bool[] applied, out int collected)
    {
        // A row a shared store's processor wrote, met on a path that keeps no record: its tiles, without the record.
        if (stored is { Length: > 0 } && stored[0] == TileRow.FormatWithOffsets)
        {
            stored = AppliedOffsets.Split(stored, out _);
        }

        var hop = resolution.HopMicros;
        var retention = now - resolution.RetentionMicros;
        var dropBefore = AggregationEngine.FloorTile(retention, hop);
        if (_order.Length < members.Length)
        {
            _order = new TileEvent[Math.Max(members.Length, _order.Length * 2)];
        }

        var m = 0;
        foreach (var index in members)
        {
            var micros = events[index].EventMicros;
            if (micros >= retention)
            {
                _order[m++] = new TileEvent(AggregationEngine.FloorTile(micros, hop), index);
            }
        }

        // By tile, then by position in the batch: a tile's events are added in arrival order, as one by one. (A
        // static comparison is one cached delegate; a struct IComparer would be boxed per call.)
        var order = _order.AsSpan(0, m);
        order.Sort(static (x, y) => x.Start != y.Start ? x.Start.CompareTo(y.Start) : x.Event.CompareTo(y.Event));

        var states = resolution.States;
        _shape = Shapes(resolution);
        if (_stateBounds.Length < states.Length * 2)
        {
            _stateBounds = new int[states.Length * 2];
        }

        _output.Reset();
        collected = 0;
        if (stored is null)
        {
            _output.Write([TileRow.Format]);
            _output.WriteInt32(states.Length);
            foreach (var s in states)
            {
                _output.WriteInt32(unchecked((int)s.Id));
            }

            var countAt = _output.Length;
            _output.WriteInt32(0);
            var written = 0;
            for (var k = 0; k < order.Length; written++)
            {
                k = WriteTile(view, resolution, events, order, k, long.MinValue, null, applied);
            }

            _output.PatchInt32(countAt, written);
            return _output.ToArray();
        }

        if (TryUpdateInPlace(view, resolution, stored, events, order, dropBefore, applied, out collected) is { } row)
        {
            return row;
        }

        Rebuilds++;
        return Rebuild(view, resolution, stored, events, members, now, applied, out collected);
    }

    /// <summary>
    /// The reference path: the whole row decoded into tile objects, the events added, expired tiles dropped, the
    /// row encoded. Taken for rows whose states differ from the resolution's (a changed view) or that are not in
    /// canonical tile order.
    /// </summary>
    internal static byte[] Rebuild(CompiledAggregationView view, Resolution resolution, byte[]? stored, IReadOnlyList<AggregationEvent> events,
        ReadOnlySpan<int> members, long now, bool[] applied, out int collected)
    {
        var retention = now - resolution.RetentionMicros;
        var tiles = TileRow.Decode(stored, resolution);
        foreach (var index in members)
        {
            var e = events[index];
            if (e.EventMicros >= retention && AggregationEngine.Add(view, resolution, tiles, e))
            {
                applied[index] = true;
            }
        }

        collected = tiles.DropBefore(AggregationEngine.FloorTile(retention, resolution.HopMicros));
        return TileRow.Encode(tiles);
    }

    private byte[]? TryUpdateInPlace(CompiledAggregationView view, Resolution resolution, byte[] stored, IReadOnlyList<AggregationEvent> events,
        ReadOnlySpan<TileEvent> order, long dropBefore, bool[] applied, out int collected)
    {
        collected = 0;
        var states = resolution.States;
        var reader = new TileRow.Reader(stored);
        if (reader.Int32() != states.Length)
        {
            return null;
        }

        foreach (var s in states)
        {
            if (reader.UInt32() != s.Id)
            {
                return null;
            }
        }

        // The header (format, state ids) is the resolution's: copied as it is.
        _output.Write(stored.AsSpan(0, reader.Position));
        var countAt = _output.Length;
        _output.WriteInt32(0);

        var tiles = reader.Int32();
        var written = 0;
        var k = 0;
        var runFrom = -1;
        var runTo = -1;
        var previous = long.MinValue;
        for (var t = 0; t < tiles; t++)
        {
            var tileAt = reader.Position;
            var start = reader.Int64();
            var max = reader.Int64();
            if (t > 0 && start <= previous)
            {
                return null;
            }

            previous = start;
            for (var i = 0; i < states.Length; i++)
            {
                var length = reader.Int32();
                _stateBounds[2 * i] = reader.Position;
                _stateBounds[(2 * i) + 1] = length;
                reader.Skip(length);
            }

            var tileEnd = reader.Position;

            // New tiles of the batch that sort before this one.
            while (k < order.Length && order[k].Start < start)
            {
                Flush(stored, ref runFrom, runTo);
                k = WriteTile(view, resolution, events, order, k, long.MinValue, null, applied);
                written++;
            }

            if (start < dropBefore)
            {
                // Events are never older than retention, so an expired tile has none of the batch's.
                Flush(stored, ref runFrom, runTo);
                collected++;
            }
            else if (k < order.Length && order[k].Start == start)
            {
                Flush(stored, ref runFrom, runTo);
                k = WriteTile(view, resolution, events, order, k, max, stored, applied);
                written++;
            }
            else
            {
                if (runFrom < 0)
                {
                    runFrom = tileAt;
                }

                runTo = tileEnd;
                written++;
            }
        }

        Flush(stored, ref runFrom, runTo);
        while (k < order.Length)
        {
            k = WriteTile(view, resolution, events, order, k, long.MinValue, null, applied);
            written++;
        }

        _output.PatchInt32(countAt, written);
        return _output.ToArray();
    }

    private void Flush(byte[] stored, ref int runFrom, int runTo)
    {
        if (runFrom >= 0)
        {
            _output.Write(stored.AsSpan(runFrom, runTo - runFrom));
            runFrom = -1;
        }
    }

    /// <summary>
    /// Writes the tile of <paramref name="order"/>[<paramref name="k"/>].Start with its events added: to the stored
    /// states (<paramref name="stored"/> with <see cref="_stateBounds"/>) or, when <paramref name="stored"/> is
    /// null, to empty ones. Returns the index of the first event of the next tile.
    /// </summary>
    private int WriteTile(CompiledAggregationView view, Resolution resolution, IReadOnlyList<AggregationEvent> events, ReadOnlySpan<TileEvent> order,
        int k, long max, byte[]? stored, bool[] applied)
    {
        var start = order[k].Start;
        var end = k + 1;
        while (end < order.Length && order[end].Start == start)
        {
            end++;
        }

        for (var q = k; q < end; q++)
        {
            max = Math.Max(max, events[order[q].Event].EventMicros);
        }

        _output.WriteInt64(start);
        _output.WriteInt64(max);
        var specs = resolution.States;
        for (var i = 0; i < specs.Length; i++)
        {
            var spec = specs[i];
            var old = stored is null ? default : stored.AsSpan(_stateBounds[2 * i], _stateBounds[(2 * i) + 1]);
            if (_shape[i] != Shape.Other)
            {
                if (!WriteShaped(_shape[i], spec, old, events, order, k, end, applied))
                {
                    _output.WriteInt32(old.Length);
                    _output.Write(old);
                }

                continue;
            }

            AggregateState? state = null;
            for (var q = k; q < end; q++)
            {
                var index = order[q].Event;
                var e = events[index];
                if (spec.Filter is { } filter && !Passes(filter, e.Values))
                {
                    continue;
                }

                if (state is null)
                {
                    state = State(resolution, i);
                    state.Clear();
                    if (!old.IsEmpty)
                    {
                        state.MergeFrom(old);
                    }
                }

                // A count without a column counts events: it is given the event time as its (non-null) value.
                state.Add(spec.Column >= 0 ? e.Values[spec.Column] : FeatureValue.FromTimestampMicros(e.EventMicros), e.EventMicros);
                applied[index] = true;
            }

            if (state is null)
            {
                _output.WriteInt32(old.Length);
                _output.Write(old);
            }
            else
            {
                var lengthAt = _output.Length;
                _output.WriteInt32(0);
                if (!state.IsEmpty)
                {
                    state.WriteTo(_output);
                }

                _output.PatchInt32(lengthAt, _output.Length - lengthAt - 4);
            }
        }

        return end;
    }

    private bool Passes(CompiledExpression filter, FeatureValue[] values)
    {
        _input.Values = values;
        var pass = filter.Evaluate(_input);
        return !pass.IsNull && pass.AsBool();
    }

    private AggregateState State(Resolution resolution, int index)
    {
        if (!_states.TryGetValue(resolution, out var cached))
        {
            cached = new AggregateState[resolution.States.Length];
            _states[resolution] = cached;
        }

        return cached[index] ??= resolution.States[index].Create();
    }

    public void Dispose() => _output.Dispose();

    /// <summary>An event of the batch and the start of its tile.</summary>
    private readonly record struct TileEvent(long Start, int Event);

    /// <summary>An event's values as filter inputs (slot = source column position), one reused instance.</summary>
    private sealed class FilterInput : IValueSource
    {
        public FeatureValue[] Values { get; set; } = [];

        public FeatureValue Get(int slot) => Values[slot];
    }
}
