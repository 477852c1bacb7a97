namespace Freshet.Ingestion;

/// <summary>
/// One event read from a stream. <see cref="Partition"/> and <see cref="Offset"/> name its position:
/// for Kafka the partition is <c>{topic}/{partition number}</c> and the offset is the partition's
/// message offset; for NATS JetStream the partition is the stream name (a stream is totally ordered,
/// so it is one partition) and the offset is the stream sequence. The next position to resume from
/// after this event is <c>Offset + 1</c> in both cases.
/// </summary>
/// <param name="Partition">The partition the event belongs to; offsets are ordered within it.</param>
/// <param name="Offset">The position of the event in its partition.</param>
/// <param name="Key">The message key, if any (Kafka key; null for NATS).</param>
/// <param name="Value">The message payload (a JSON object for Freshet's decoder).</param>
/// <param name="BrokerTimestamp">When the broker stored the event, when it says so.</param>
public sealed record SourceEvent(string Partition, long Offset, byte[]? Key, byte[] Value, DateTimeOffset? BrokerTimestamp);

/// <summary>
/// A stream of events for a stream processor (DESIGN §3 "Exactly-once effect").
/// <para>
/// Positions are owned by Freshet's store, not by the broker: the processor writes its state updates
/// and the next offsets of the partitions it consumed in one atomic write, so after a crash it resumes
/// exactly where its stored state ends. A source is built with a <c>resumeFrom</c> delegate,
/// <c>Func&lt;IReadOnlyList&lt;string&gt;, IReadOnlyDictionary&lt;string, long?&gt;&gt;</c>, that it calls
/// whenever it gains partitions (a Kafka rebalance, the start of a NATS consumer) with the partitions'
/// names; it starts each partition at the returned next offset (the offset after the last event whose
/// effect Freshet stored), or at the beginning of the retained data for null or a missing entry.
/// Broker-side positions (Kafka committed offsets, JetStream acks) are only advisory: they are updated
/// by <see cref="AcknowledgeAsync"/> for monitoring and retention, never read back to decide where to
/// resume.
/// </para>
/// <para>
/// Calls are not thread-safe: one processor loop polls, stores and acknowledges in turn.
/// </para>
/// </summary>
public interface IEventSource : IAsyncDisposable
{
    /// <summary>The source's name (the definition's name), for logs and metrics.</summary>
    string Name { get; }

    /// <summary>
    /// Raised just before the source loses partitions (a Kafka rebalance, or disposal), with their
    /// names. It is raised from inside <see cref="PollAsync"/> or <see cref="IAsyncDisposable.DisposeAsync"/>,
    /// so never concurrently with the processor's own calls. When it fires, every event of those
    /// partitions that this source will ever hand out has already been returned by <see cref="PollAsync"/>
    /// (events of them gathered by the poll in progress are dropped). The handler must flush (store
    /// state and offsets for) those partitions before it returns, blocking if it must, because another
    /// member may start on them right after, from the offsets in the store. A handler that cannot
    /// flush loses nothing: the next owner reads the unstored events again.
    /// </summary>
    event Action<IReadOnlyList<string>>? PartitionsRevoked;

    /// <summary>
    /// True while this source reads every partition of what it consumes: Kafka once the group has given it
    /// every partition of the topic, NATS once its stream and consumer are set up. A catch-up run counts idle
    /// time only while this is true, so a slow group join, or partitions still held by a killed member until
    /// its session expires, are not mistaken for an empty stream.
    /// </summary>
    bool HoldsAllPartitions { get; }

    /// <summary>
    /// Returns up to <paramref name="maxEvents"/> events, waiting at most <paramref name="maxWait"/> for
    /// the first one; an empty list means nothing arrived in time. Within a partition, events come in
    /// offset order, each once, starting at the resume offset (until a rebalance or restart).
    /// </summary>
    ValueTask<IReadOnlyList<SourceEvent>> PollAsync(int maxEvents, TimeSpan maxWait, CancellationToken ct);

    /// <summary>
    /// Tells the broker the next offset of each partition (the offset after the last event stored).
    /// Call it only after Freshet stored those offsets atomically with its state. It is advisory: a
    /// failure here loses nothing, since resumption reads the store, not the broker.
    /// </summary>
    ValueTask AcknowledgeAsync(IReadOnlyDictionary<string, long> nextOffsets, CancellationToken ct);
}
