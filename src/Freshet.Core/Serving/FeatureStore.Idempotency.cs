using System.Buffers.Binary;
using System.Text;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.Serving;

public sealed partial class FeatureStore
{
    /// <summary>
    /// The namespace that orders stored idempotency keys by first-seen time: key = the time (8 bytes, big-endian,
    /// sign bit flipped, so byte order is time order) then the key's row key in <see cref="IdempotencyNamespace"/>.
    /// A sweep reads it from the start and stops at the first key still inside the window.
    /// </summary>
    public const string IdempotencyExpiryNamespace = "__idempotency_expiry";

    /// <summary>At least this many expired keys are collected per sweep (more when pushes are larger).</summary>
    private const int SweepBatch = 4_096;

    /// <summary>How long after a sweep that found nothing more to collect the next one waits.</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    private long _nextSweepMicros = long.MinValue;

    /// <summary>
    /// The rows of <paramref name="rows"/> to apply (their key was not seen within the window, nor earlier in the
    /// request) and the puts that record their keys: each key's first-seen time in <see cref="IdempotencyNamespace"/>
    /// and its entry in <see cref="IdempotencyExpiryNamespace"/>; a key that had expired loses its old entry.
    /// Called under the idempotency lock.
    /// </summary>
    private async ValueTask<(List<int> Fresh, List<OnlinePut> Puts)> FreshIdempotentRowsAsync(string pushSource, ColumnTable rows, CancellationToken cancellationToken)
    {
        var keys = rows.Column(IdempotencyKeyColumn)!;
        var storeKeys = new OnlineKey[rows.RowCount];
        for (var r = 0; r < rows.RowCount; r++)
        {
            if (keys[r].IsNull || keys[r].Kind != ValueKind.String)
            {
                throw new RequestException($"df.{IdempotencyKeyColumn}[{r}]", "wrong_type", $"'{IdempotencyKeyColumn}' must be a string in every row (row {r} is not)");
            }

            storeKeys[r] = new OnlineKey(IdempotencyNamespace, Encoding.UTF8.GetBytes(pushSource + "\0" + keys[r].AsString()));
        }

        var seen = new byte[]?[storeKeys.Length];
        await Online.ReadAsync(storeKeys, seen, cancellationToken);
        var now = Micros.From(Now);
        var cutoff = now - Micros.Of(Config.IdempotencyWindow);
        var fresh = new List<int>();
        var puts = new List<OnlinePut>();
        var inRequest = new HashSet<string>(StringComparer.Ordinal);
        var nowBytes = BitConverter.GetBytes(now);
        for (var r = 0; r < rows.RowCount; r++)
        {
            // A key seen less than a window ago dedupes; an older one (not collected yet) counts as new.
            long? firstSeen = seen[r] is { Length: 8 } value ? BitConverter.ToInt64(value) : seen[r] is null ? null : long.MinValue;
            if (firstSeen > cutoff || !inRequest.Add(keys[r].AsString()))
            {
                continue;
            }

            fresh.Add(r);
            var key = storeKeys[r].EntityKey;
            if (firstSeen is { } old)
            {
                puts.Add(new OnlinePut(IdempotencyExpiryNamespace, ExpiryKey(old, key), null));
            }

            puts.Add(new OnlinePut(IdempotencyNamespace, key, nowBytes));
            puts.Add(new OnlinePut(IdempotencyExpiryNamespace, ExpiryKey(now, key), []));
        }

        return (fresh, puts);
    }

    /// <summary>
    /// Deletes up to <paramref name="maxKeys"/> idempotency keys first seen at least a window
    /// (<see cref="Model.RepoConfig.IdempotencyWindow"/>) ago, oldest first; returns how many. Pushes with keys run
    /// a sweep themselves (bounded, at most every 10 s unless the last one was cut short), so calling this is
    /// only needed to collect keys while no keyed pushes arrive.
    /// </summary>
    public async ValueTask<int> CollectExpiredIdempotencyKeysAsync(int maxKeys = SweepBatch, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxKeys);
        await _idempotency.WaitAsync(cancellationToken);
        try
        {
            return await SweepAsync(maxKeys, cancellationToken);
        }
        finally
        {
            _idempotency.Release();
        }
    }

    /// <summary>
    /// After a keyed push (under the idempotency lock): collects expired keys when a sweep is due. Each sweep may
    /// remove twice the keys the push added, so collection keeps up with any push rate.
    /// </summary>
    private async ValueTask CollectExpiredKeysIfDueAsync(int rowsPushed)
    {
        var now = Micros.From(Now);
        if (now < _nextSweepMicros)
        {
            return;
        }

        // The push is durable already; its caller going away must not cut the sweep's write short.
        var limit = Math.Max(SweepBatch, 2 * rowsPushed);
        var removed = await SweepAsync(limit, CancellationToken.None);
        _nextSweepMicros = removed >= limit ? now : now + Micros.Of(SweepInterval);
    }

    private async ValueTask<int> SweepAsync(int maxKeys, CancellationToken cancellationToken)
    {
        var cutoff = Micros.From(Now) - Micros.Of(Config.IdempotencyWindow);
        var puts = new List<OnlinePut>();
        await foreach (var (key, _) in Online.ScanAsync(IdempotencyExpiryNamespace, [], cancellationToken))
        {
            if (puts.Count / 2 >= maxKeys || key.Length < 8 || FromSortable(key) > cutoff)
            {
                break;
            }

            puts.Add(new OnlinePut(IdempotencyExpiryNamespace, key, null));
            puts.Add(new OnlinePut(IdempotencyNamespace, key[8..], null));
        }

        if (puts.Count > 0)
        {
            await Online.PutAsync(puts, cancellationToken);
        }

        return puts.Count / 2;
    }

    private static byte[] ExpiryKey(long firstSeenMicros, byte[] key)
    {
        var k = new byte[8 + key.Length];
        BinaryPrimitives.WriteUInt64BigEndian(k, (ulong)firstSeenMicros ^ 0x8000_0000_0000_0000UL);
        key.CopyTo(k, 8);
        return k;
    }

    private static long FromSortable(byte[] key) => (long)(BinaryPrimitives.ReadUInt64BigEndian(key) ^ 0x8000_0000_0000_0000UL);
}
