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
}

/// <summary>One rejected event: where it came from, why, and its payload as received.</summary>
public sealed record RejectedEvent(string Source, string Code, string Reason, byte[] Payload, string? View = null, string? Partition = null, long? Offset = null);
