using Freshet.Online;

namespace Freshet.Ingestion;

/// <summary>
/// What the engine needs of a dead-letter store: turning rejected events into rows written in the same atomic
/// batch as the tiles they did not enter, so a rejection is recorded exactly when the batch commits.
/// </summary>
public interface IDeadLetterSink
{
    /// <summary>The state rows that record <paramref name="letters"/> (ids assigned here).</summary>
    IReadOnlyList<OnlinePut> Prepare(IReadOnlyList<RejectedEvent> letters);

    /// <summary>
    /// Records <paramref name="letters"/> on a shared store (<see cref="IOnlineStore.IsShared"/>), after the tile
    /// rows they go with are stored, so that a replayed rejection is not recorded twice (docs/scale-out.md). The
    /// default puts what <see cref="Prepare"/> returns.
    /// </summary>
    ValueTask RecordSharedAsync(IOnlineStore store, IReadOnlyList<RejectedEvent> letters, CancellationToken cancellationToken = default) =>
        letters.Count == 0 ? ValueTask.CompletedTask : store.PutAsync(Prepare(letters), cancellationToken);
}

/// <summary>One rejected event: where it came from, why, and its payload as received.</summary>
public sealed record RejectedEvent(string Source, string Code, string Reason, byte[] Payload, string? View = null, string? Partition = null, long? Offset = null);

/// <summary>The engine's view of an <see cref="OnlineDeadLetterStore"/>: rejected events become dead letters stamped now.</summary>
public sealed class DeadLetterSink(OnlineDeadLetterStore store, TimeProvider? clock = null) : IDeadLetterSink
{
    /// <summary>The store behind the sink (for listing and replaying).</summary>
    public OnlineDeadLetterStore Store { get; } = store;

    /// <inheritdoc />
    public IReadOnlyList<OnlinePut> Prepare(IReadOnlyList<RejectedEvent> letters)
    {
        ArgumentNullException.ThrowIfNull(letters);
        var now = (clock ?? TimeProvider.System).GetUtcNow();
        return Store.Prepare([.. letters.Select(l => new DeadLetter(0, l.Source, l.Reason, l.Code, now, l.Payload, l.View, l.Partition, l.Offset))]);
    }

    /// <inheritdoc />
    /// <remarks>Each letter is created with a compare-and-set (<see cref="OnlineDeadLetterStore.RecordAsync"/>) in the sink's own store.</remarks>
    public async ValueTask RecordSharedAsync(IOnlineStore store, IReadOnlyList<RejectedEvent> letters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(letters);
        if (letters.Count > 0)
        {
            var now = (clock ?? TimeProvider.System).GetUtcNow();
            await Store.RecordAsync([.. letters.Select(l => new DeadLetter(0, l.Source, l.Reason, l.Code, now, l.Payload, l.View, l.Partition, l.Offset))], cancellationToken);
        }
    }
}
