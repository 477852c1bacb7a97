using System.Globalization;

namespace Freshet.Governance;

/// <summary>The head of a chain as last acknowledged: written after each append, so a log shorter than it was truncated.</summary>
public sealed record AuditAnchor(long Sequence, string Hash)
{
    /// <summary>The anchor of an empty log.</summary>
    public static readonly AuditAnchor Empty = new(0, AuditEncoding.Genesis);
}

/// <summary>
/// Checks records one by one, in log order, against the chain rules: sequences count up from 1 without gaps, each
/// record names the previous record's hash, each hash matches the record's canonical encoding, and the anchor
/// names a record that exists with that hash. Stops at the first problem.
/// </summary>
public sealed class AuditChainVerifier(byte[]? key, AuditAnchor? anchor, string? anchorProblem = null)
{
    private long _expected = 1;
    private string _previous = AuditEncoding.Genesis;
    private string? _problem;
    private long? _badSequence;
    private string? _hashAtAnchor = anchor is { Sequence: 0 } ? AuditEncoding.Genesis : null;

    /// <summary>Whether a problem was found (further records are ignored).</summary>
    public bool Failed => _problem is not null;

    /// <summary>Checks the next record, read from <paramref name="where"/> (e.g. "line 12"); false once a problem is found.</summary>
    public bool Add(AuditRecord? record, string? readError, string where)
    {
        if (_problem is not null)
        {
            return false;
        }

        if (record is null)
        {
            return Fail(_expected, $"record {_expected} ({where}) cannot be read: {readError}");
        }

        if (record.Sequence != _expected)
        {
            return record.Sequence > _expected
                ? Fail(_expected, $"record {_expected} is missing: {where} holds record {record.Sequence} (a record was removed or reordered)")
                : Fail(_expected, $"record {_expected} is missing: {where} holds record {record.Sequence} again or out of order (records were reordered or copied)");
        }

        if (!string.Equals(record.Previous, _previous, StringComparison.Ordinal))
        {
            return Fail(_expected, $"record {_expected} ({where}): its previous hash does not match record {_expected - 1} (records were removed, reordered or changed)");
        }

        if (record.Algorithm == AuditEncoding.HmacSha256 && key is null)
        {
            return Fail(_expected, $"record {_expected} ({where}) is sealed with a key (hmac-sha256): set FRESHET_AUDIT_KEY to verify it");
        }

        if (record.Algorithm != AuditEncoding.HmacSha256 && key is not null)
        {
            // With a key, every record must carry it: else anyone could rewrite the log with plain SHA-256.
            return Fail(_expected, $"record {_expected} ({where}) is not sealed with the key (algorithm '{record.Algorithm}') although FRESHET_AUDIT_KEY is set");
        }

        if (record.Algorithm is not (AuditEncoding.Sha256 or AuditEncoding.HmacSha256))
        {
            return Fail(_expected, $"record {_expected} ({where}) has an unknown algorithm '{record.Algorithm}'");
        }

        if (!string.Equals(AuditEncoding.Recompute(record, key), record.Hash, StringComparison.Ordinal))
        {
            return Fail(_expected, $"record {_expected} ({where}): hash mismatch, the record was changed");
        }

        if (anchor is not null && record.Sequence == anchor.Sequence)
        {
            _hashAtAnchor = record.Hash;
        }

        _previous = record.Hash;
        _expected++;
        return true;
    }

    /// <summary>The outcome, once every record was added.</summary>
    public AuditVerification Finish(bool ignoredTornTail)
    {
        var count = _expected - 1;
        if (_problem is null)
        {
            if (anchorProblem is not null)
            {
                Fail(count, anchorProblem);
            }
            else if (anchor is null)
            {
                if (count > 0)
                {
                    Fail(1, $"the head anchor is missing although the log holds {count} record{(count == 1 ? "" : "s")} (it was removed)");
                }
            }
            else if (anchor.Sequence > count)
            {
                Fail(count + 1, string.Create(CultureInfo.InvariantCulture,
                    $"the log ends at record {count} but the anchor names record {anchor.Sequence}: records {count + 1} to {anchor.Sequence} were removed (truncated)"));
            }
            else if (!string.Equals(_hashAtAnchor, anchor.Hash, StringComparison.Ordinal))
            {
                Fail(anchor.Sequence, $"the anchor names record {anchor.Sequence} with a hash that record {anchor.Sequence} does not have (the anchor or the record was changed)");
            }
        }

        return new AuditVerification
        {
            Count = count,
            HeadSequence = count,
            HeadHash = _previous,
            BadSequence = _badSequence,
            Problem = _problem,
            IgnoredTornTail = ignoredTornTail,
            AnchorSequence = anchor?.Sequence ?? 0,
        };
    }

    private bool Fail(long sequence, string problem)
    {
        _problem ??= problem;
        _badSequence ??= sequence;
        return false;
    }
}
