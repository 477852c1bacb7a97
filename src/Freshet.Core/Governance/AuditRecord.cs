using System.Globalization;

namespace Freshet.Governance;

/// <summary>An object an audited action touched: a view, a feature service, a push source, the project, an API key.</summary>
public sealed record AuditObject(string Kind, string Name)
{
    /// <inheritdoc />
    public override string ToString() => $"{Kind}:{Name}";
}

/// <summary>
/// What happened, as the caller states it: who (<see cref="Actor"/>), when, which action on which objects, how it
/// ended (<see cref="Status"/>), from where, and details such as rows or the registry version. The log adds the
/// sequence number and the hashes.
/// </summary>
public sealed record AuditEntry
{
    /// <summary>When it happened (UTC), as <see cref="AuditTime.Format"/> writes it.</summary>
    public required string Time { get; init; }

    /// <summary>Who: an API key's name, a CLI user (<c>FRESHET_USER</c> or user@host), or <c>anonymous</c>.</summary>
    public required string Actor { get; init; }

    /// <summary>What: <c>apply</c>, <c>rollback</c>, <c>write_online</c>, <c>materialize</c>, <c>read_online</c>, ...</summary>
    public required string Action { get; init; }

    /// <summary>How it ended: an HTTP status (<c>200</c>, <c>403</c>), a gRPC status (<c>OK</c>, <c>PermissionDenied</c>) or <c>ok</c>.</summary>
    public required string Status { get; init; }

    /// <summary>Where from: the client's IP address, or <c>local</c> for a CLI command.</summary>
    public string Remote { get; init; } = "local";

    /// <summary>The objects it touched.</summary>
    public IReadOnlyList<AuditObject> Objects { get; init; } = [];

    /// <summary>Details as text (rows, registry version, endpoint); written sorted by key.</summary>
    public IReadOnlyDictionary<string, string> Details { get; init; } = Empty;

    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();
}

/// <summary>
/// One record of the audit log: an <see cref="AuditEntry"/> with its place in the chain. <see cref="Hash"/> covers
/// every other field, including <see cref="Previous"/> (the hash of the record before), so a changed, removed or
/// reordered record breaks the chain (docs/audit.md gives the exact encoding).
/// </summary>
public sealed record AuditRecord
{
    /// <summary>The position in the chain, from 1, without gaps.</summary>
    public required long Sequence { get; init; }

    /// <summary>How the hashes are made: <c>sha256</c>, or <c>hmac-sha256</c> with a key.</summary>
    public required string Algorithm { get; init; }

    /// <summary>What happened.</summary>
    public required AuditEntry Entry { get; init; }

    /// <summary>The hash of the record before (64 zeros for the first), lowercase hex.</summary>
    public required string Previous { get; init; }

    /// <summary>This record's hash over its canonical encoding, lowercase hex.</summary>
    public required string Hash { get; init; }
}

/// <summary>Times in audit records: UTC, seven fraction digits, so that text and hash agree on every machine.</summary>
public static class AuditTime
{
    /// <summary>The text of <paramref name="time"/> in a record, e.g. <c>2026-11-29T13:53:29.1234567Z</c>.</summary>
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Now, formatted.</summary>
    public static string Now() => Format(DateTimeOffset.UtcNow);
}

/// <summary>The audit log cannot be appended to: its newest record or its anchor was damaged or tampered with.</summary>
public sealed class AuditLogCorruptException(string message) : Exception(message);
