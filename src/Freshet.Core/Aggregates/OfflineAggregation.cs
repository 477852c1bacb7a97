using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// Computes an aggregation view as of many times in one pass (training data, DESIGN §3 consistency): it is fed one
/// entity at a time, events and query times in time order, and answers each query from tiles built by the
/// engine's own code (<see cref="AggregationEngine.Add"/>, <see cref="TileRow.Encode"/>,
/// <see cref="AggregationEngine.Evaluate"/>), so the value at <c>T</c> is the one the online store returns at
/// <c>T</c> after the same events. The caller must give an entity's query at <c>T</c> before its events at
/// <c>T</c>: the bound is strict, an event at <c>T</c> is not counted at <c>T</c>.
/// </summary>
/// <remarks>
/// Cost: each event is added to one tile per resolution; each query encodes the live tiles of a resolution it
/// reads (at most the longest window plus a hop plus the allowed lateness, since older tiles are dropped as
/// online) unless nothing changed since the previous query, then merges the window. Memory is one entity's
/// live tiles.
/// </remarks>
public sealed class OfflineAggregation
{
    private readonly CompiledAggregationView _view;
    private readonly int[] _slots;
    private readonly TileSet[] _tiles;
    private readonly byte[]?[] _encoded;
    private readonly AggregateState[] _accumulators;
    private bool _seen;

    /// <summary>Prepares the computation of <paramref name="slots"/> (indexes into <see cref="CompiledAggregationView.Aggregations"/>).</summary>
    public OfflineAggregation(CompiledAggregationView view, IReadOnlyList<int> slots)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(slots);
        _view = view;
        _slots = [.. slots];
        _tiles = new TileSet[view.Resolutions.Length];
        _encoded = new byte[]?[view.Resolutions.Length];
        _accumulators = new AggregateState[_slots.Length];
        for (var s = 0; s < _slots.Length; s++)
        {
            var slot = view.Aggregations[_slots[s]];
            _accumulators[s] = view.Resolutions[slot.Resolution].States[slot.State].Create();
        }

        StartEntity();
    }

    /// <summary>Forgets the previous entity's events.</summary>
    public void StartEntity()
    {
        for (var r = 0; r < _tiles.Length; r++)
        {
            _tiles[r] = new TileSet(_view.Resolutions[r]);
            _encoded[r] = null;
        }

        _seen = false;
    }

    /// <summary>Adds an event of the current entity; events come in time order, each after the queries at its time.</summary>
    public void Add(AggregationEvent e)
    {
        for (var r = 0; r < _tiles.Length; r++)
        {
            AggregationEngine.Add(_view, _view.Resolutions[r], _tiles[r], e);
            _encoded[r] = null;
        }

        _seen = true;
    }

    /// <summary>
    /// The requested aggregations of the current entity at <paramref name="atMicros"/>, written to
    /// <paramref name="row"/> at <paramref name="columns"/> (one per slot). An entity with no event before
    /// <paramref name="atMicros"/> gets nulls, as online (no tile row: NOT_FOUND); otherwise the engine's value,
    /// which is null for an empty window except for counts (0).
    /// </summary>
    public void Evaluate(long atMicros, FeatureValue[] row, IReadOnlyList<int> columns)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(columns);
        if (!_seen)
        {
            for (var s = 0; s < _slots.Length; s++)
            {
                row[columns[s]] = FeatureValue.Null;
            }

            return;
        }

        for (var s = 0; s < _slots.Length; s++)
        {
            var slot = _view.Aggregations[_slots[s]];
            var r = slot.Resolution;
            if (_encoded[r] is null)
            {
                // As online: tiles beyond the retention are collected; no window of a later query reaches them.
                var resolution = _view.Resolutions[r];
                _tiles[r].DropBefore(AggregationEngine.FloorTile(atMicros - resolution.RetentionMicros, resolution.HopMicros));
                _encoded[r] = TileRow.Encode(_tiles[r]);
            }

            row[columns[s]] = AggregationEngine.Evaluate(_view, slot, _encoded[r], atMicros, _accumulators[s]).Value;
        }
    }
}
