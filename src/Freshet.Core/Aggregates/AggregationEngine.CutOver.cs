using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Freshet.Online;

namespace Freshet.Aggregates;

/// <summary>
/// Lambda cut-over (DESIGN §3): a backfill writes the tiles of a view's batch events before a cut-over time and
/// stores that time under <see cref="CutOverNamespace"/>; the stream paths then skip, for that view, every event
/// before it, since those are in the backfilled tiles already. Skipped events are counted, not dead-lettered.
/// </summary>
public sealed partial class AggregationEngine
{
    /// <summary>The namespace of per-view cut-over times (key: the view name in UTF-8; value: 8 bytes, little-endian epoch microseconds).</summary>
    public const string CutOverNamespace = "__cutover";

    // Per view: the stored cut-over, or long.MinValue when it has none. Loaded on first use; a host that follows
    // the registry forgets it on each new version, so a cut-over written by another process is seen after restart
    // or registry change (an embedded store has one process at a time, so that is when it can have changed).
    private readonly ConcurrentDictionary<string, long> _cutOvers = new(StringComparer.Ordinal);

    /// <summary>The store key of a view's cut-over row.</summary>
    public static byte[] CutOverKey(string view) => Encoding.UTF8.GetBytes(view);

    /// <summary>The stored form of a cut-over time.</summary>
    public static byte[] EncodeCutOver(long micros)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, micros);
        return b;
    }

    /// <summary>The cut-over of <paramref name="view"/> in epoch microseconds, or null when it was never backfilled.</summary>
    public async ValueTask<long?> CutOverAsync(string view, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(view);
        if (!_cutOvers.TryGetValue(view, out var micros))
        {
            var rows = new byte[]?[1];
            await store.ReadAsync([new OnlineKey(CutOverNamespace, CutOverKey(view))], rows, cancellationToken);
            micros = rows[0] is { Length: 8 } b ? BinaryPrimitives.ReadInt64LittleEndian(b) : long.MinValue;
            _cutOvers[view] = micros;
        }

        return micros == long.MinValue ? null : micros;
    }

    /// <summary>Records in this engine's cache what a backfill in this process stored (null: the view has no cut-over any more).</summary>
    public void SetCutOver(string view, long? micros)
    {
        ArgumentNullException.ThrowIfNull(view);
        _cutOvers[view] = micros ?? long.MinValue;
    }

    /// <summary>Forgets the per-view state this engine caches (cut-overs, newest applied event) so it is read again from the store.</summary>
    public void ForgetCachedViewState(string? view = null)
    {
        if (view is null)
        {
            _cutOvers.Clear();
            return;
        }

        _cutOvers.TryRemove(view, out _);
        _newest.TryRemove(view, out _);
    }

    /// <summary>
    /// The events of a stream batch the view still takes: those at or after its cut-over (all of them when it has
    /// none), in their order, and how many were skipped as already backfilled.
    /// </summary>
    public async ValueTask<(IReadOnlyList<AggregationEvent> Events, int Skipped)> SkipBeforeCutOverAsync(CompiledAggregationView view,
        IReadOnlyList<AggregationEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0 || await CutOverAsync(view.View.Name, cancellationToken) is not { } cutOver)
        {
            return (events, 0);
        }

        var kept = new List<AggregationEvent>(events.Count);
        foreach (var e in events)
        {
            if (e.EventMicros >= cutOver)
            {
                kept.Add(e);
            }
        }

        return (kept, events.Count - kept.Count);
    }
}
