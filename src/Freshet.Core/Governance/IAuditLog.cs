namespace Freshet.Governance;

/// <summary>
/// An append-only, hash-chained log of what was done to the store (docs/audit.md). An append returns once the
/// record is durable, so a request that caused it is answered after its record is on disk.
/// </summary>
public interface IAuditLog : IAsyncDisposable
{
    /// <summary>Appends <paramref name="entry"/> as the next record of the chain; returns the sealed record once it is durable.</summary>
    ValueTask<AuditRecord> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default);

    /// <summary>The records with a sequence above <paramref name="afterSequence"/>, oldest first (an interrupted last append is skipped).</summary>
    IAsyncEnumerable<AuditRecord> ReadAsync(long afterSequence = 0, CancellationToken cancellationToken = default);

    /// <summary>Checks the whole chain and the head anchor; the first problem found, if any.</summary>
    ValueTask<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default);
}

/// <summary>The outcome of checking an audit log.</summary>
public sealed record AuditVerification
{
    /// <summary>Whether every record and the anchor agree.</summary>
    public bool IsValid => Problem is null;

    /// <summary>How many records were checked (and found good, up to the problem).</summary>
    public long Count { get; init; }

    /// <summary>The sequence and hash of the newest good record (0 and the genesis hash when there is none).</summary>
    public long HeadSequence { get; init; }

    /// <inheritdoc cref="HeadSequence"/>
    public string HeadHash { get; init; } = AuditEncoding.Genesis;

    /// <summary>The sequence of the first bad record (or where one is missing), when there is a problem.</summary>
    public long? BadSequence { get; init; }

    /// <summary>What is wrong, in words; null when valid.</summary>
    public string? Problem { get; init; }

    /// <summary>Whether an unfinished last line was ignored: an append interrupted before it was durable and acknowledged.</summary>
    public bool IgnoredTornTail { get; init; }

    /// <summary>The anchor's sequence (records after it were written but their append had not finished).</summary>
    public long AnchorSequence { get; init; }
}
