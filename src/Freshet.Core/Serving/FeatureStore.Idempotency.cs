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
    /// The idempotency keys of <paramref name="rows"/> (a string in every row, or a <see cref="RequestException"/>),
    /// their store keys, and what the store holds for each, read in one call.
    /// </summary>
    private async ValueTask<(FeatureValue[] Keys, OnlineKey[] StoreKeys, byte[]?[] Seen)> ReadIdempotencyKeysAsync(string pushSource, ColumnTable rows, CancellationToken cancellationToken)
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
        return (keys, storeKeys, seen);
    }

    /// <summary>
    /// The rows of <paramref name="rows"/> to apply (their key was not seen within the window, nor earlier in the
    /// request) and the puts that record their keys: each key's first-seen time in <see cref="IdempotencyNamespace"/>
    /// and its entry in <see cref="IdempotencyExpiryNamespace"/>; a key that had expired loses its old entry.
    /// Called under the idempotency lock.
    /// </summary>
    private async ValueTask<(List<int> Fresh, List<OnlinePut> Puts, List<OnlineSwap>? Claims)> FreshIdempotentRowsAsync(string pushSource, ColumnTable rows, CancellationToken cancellationToken)
    {
        var (keys, storeKeys, seen) = await ReadIdempotencyKeysAsync(pushSource, rows, cancellationToken);
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

        return (fresh, puts, null);
    }

    /// <summary>
    /// On a shared store: claims the keys of <paramref name="rows"/> with compare-and-set before anything is
    /// applied, so that of two servers taking the same key only one applies it (docs/scale-out.md). A claim is a
    /// pending row (first-seen time and a deadline, 16 bytes); the returned puts, stored after the tile rows, turn
    /// it into a plain first-seen row (8 bytes). A key seen within the window is a duplicate. A key claimed by a
    /// push whose deadline has not passed is <em>in flight</em>: that push may still fail, so skipping the row would
    /// lose it if it does; the whole push is refused with 409 <c>idempotency_key_in_flight</c> (nothing applied,
    /// this push's own claims released) and the client retries. A pending claim past its deadline is taken over.
    /// Returns the claims too, to be released if the push fails.
    /// </summary>
    private async ValueTask<(List<int> Fresh, List<OnlinePut> Puts, List<OnlineSwap>? Claims)> ClaimIdempotentRowsAsync(string pushSource, ColumnTable rows, CancellationToken cancellationToken)
    {
        var (keys, storeKeys, seen) = await ReadIdempotencyKeysAsync(pushSource, rows, cancellationToken);
        var now = Micros.From(Now);
        var cutoff = now - Micros.Of(Config.IdempotencyWindow);
        var pending = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(pending, now);
        BinaryPrimitives.WriteInt64LittleEndian(pending.AsSpan(8), now + Micros.Of(Options.IdempotencyClaimTimeout));
        var inRequest = new HashSet<string>(StringComparer.Ordinal);
        var candidates = new List<int>();
        var swaps = new List<OnlineSwap>();
        for (var r = 0; r < rows.RowCount; r++)
        {
            var stored = seen[r];
            if (IsPendingClaim(stored, now))
            {
                throw InFlight(keys, r);
            }

            var taken = stored is { Length: 8 } && BinaryPrimitives.ReadInt64LittleEndian(stored) > cutoff;
            if (taken || !inRequest.Add(keys[r].AsString()))
            {
                continue;
            }

            candidates.Add(r);
            swaps.Add(new OnlineSwap(IdempotencyNamespace, storeKeys[r].EntityKey, stored, pending));
        }

        var fresh = new List<int>();
        var claims = new List<OnlineSwap>();
        var puts = new List<OnlinePut>();
        if (swaps.Count == 0)
        {
            return (fresh, puts, claims);
        }

        var ok = new bool[swaps.Count];
        await Online.SwapAsync(swaps, ok, cancellationToken);
        var lost = Array.IndexOf(ok, false);
        if (lost >= 0)
        {
            // Another push took a key between the read and the swap. If it has finished (a first-seen row), the
            // key is a duplicate; if its claim is still pending, the row is in flight there: give ours back and refuse.
            var inFlight = -1;
            var recheck = new List<int>();
            for (var c = 0; c < candidates.Count; c++)
            {
                if (!ok[c])
                {
                    recheck.Add(c);
                }
            }

            var current = new byte[]?[recheck.Count];
            await Online.ReadAsync([.. recheck.Select(c => storeKeys[candidates[c]])], current, cancellationToken);
            for (var i = 0; i < recheck.Count && inFlight < 0; i++)
            {
                if (current[i] is not { Length: 8 })
                {
                    inFlight = candidates[recheck[i]];
                }
            }

            if (inFlight >= 0)
            {
                var ours = new List<OnlineSwap>();
                for (var c = 0; c < candidates.Count; c++)
                {
                    if (ok[c])
                    {
                        ours.Add(new OnlineSwap(IdempotencyNamespace, storeKeys[candidates[c]].EntityKey, pending, seen[candidates[c]]));
                    }
                }

                if (ours.Count > 0)
                {
                    await ReleaseClaimsAsync(ours);
                }

                throw InFlight(keys, inFlight);
            }
        }
        var expiry = new List<OnlinePut>();
        var nowBytes = BitConverter.GetBytes(now);
        for (var c = 0; c < candidates.Count; c++)
        {
            if (!ok[c])
            {
                continue;
            }

            var r = candidates[c];
            var key = storeKeys[r].EntityKey;
            fresh.Add(r);

            // To release the claim: delete it (what it replaced, if anything, had expired, which is as good as absent).
            claims.Add(new OnlineSwap(IdempotencyNamespace, key, pending, null));
            if (seen[r] is { Length: >= 8 } old)
            {
                expiry.Add(new OnlinePut(IdempotencyExpiryNamespace, ExpiryKey(BinaryPrimitives.ReadInt64LittleEndian(old), key), null));
            }

            // The expiry entry goes in now, so a claim whose server dies is still collected after the window.
            expiry.Add(new OnlinePut(IdempotencyExpiryNamespace, ExpiryKey(now, key), []));
            puts.Add(new OnlinePut(IdempotencyNamespace, key, nowBytes));
        }

        if (expiry.Count > 0)
        {
            await Online.PutAsync(expiry, cancellationToken);
        }

        return (fresh, puts, claims);
    }

    /// <summary>Whether <paramref name="stored"/> is a claim (16 bytes) whose deadline has not passed at <paramref name="now"/>.</summary>
    private static bool IsPendingClaim(byte[]? stored, long now) =>
        stored is { Length: 16 } && BinaryPrimitives.ReadInt64LittleEndian(stored.AsSpan(8)) > now;

    /// <summary>The 409 of a push with a key that another push has claimed and not yet finished.</summary>
    private static RequestException InFlight(FeatureValue[] keys, int row) =>
        new($"df.{IdempotencyKeyColumn}[{row}]", "idempotency_key_in_flight",
            $"idempotency key '{keys[row].AsString()}' is claimed by another push that has not finished (it may still fail); nothing of this push was applied: retry it once that push has answered, or after the claim's deadline if its server died",
            409);

    /// <summary>Gives back the keys of a push that failed (best effort: a claim not released expires at its deadline).</summary>
    private async ValueTask ReleaseClaimsAsync(List<OnlineSwap> claims)
    {
        try
        {
            await Online.SwapAsync(claims, new bool[claims.Count], CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The push's own error is the one to report; the claims expire at their deadline.
        }
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

        if (puts.Count > 0 && Online.IsShared)
        {
            await SweepSharedAsync(puts, cancellationToken);
        }
        else if (puts.Count > 0)
        {
            await Online.PutAsync(puts, cancellationToken);
        }

        return puts.Count / 2;
    }

    /// <summary>
    /// On a shared store another server may claim an expired key between the scan and the delete: a key row is
    /// deleted with compare-and-set, and only while its first-seen time is still the swept entry's.
    /// </summary>
    private async ValueTask SweepSharedAsync(List<OnlinePut> puts, CancellationToken cancellationToken)
    {
        var entries = new List<OnlinePut>(puts.Count / 2);
        var keys = new List<OnlineKey>(puts.Count / 2);
        var times = new List<long>(puts.Count / 2);
        for (var i = 0; i < puts.Count; i += 2)
        {
            entries.Add(puts[i]);
            keys.Add(new OnlineKey(IdempotencyNamespace, puts[i + 1].Key));
            times.Add(FromSortable(puts[i].Key));
        }

        var rows = new byte[]?[keys.Count];
        await Online.ReadAsync(keys, rows, cancellationToken);
        var deletes = new List<OnlineSwap>();
        var unique = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < keys.Count; i++)
        {
            if (rows[i] is { Length: >= 8 } row && BinaryPrimitives.ReadInt64LittleEndian(row) == times[i] && unique.Add(Convert.ToHexString(keys[i].EntityKey)))
            {
                deletes.Add(new OnlineSwap(IdempotencyNamespace, keys[i].EntityKey, row, null));
            }
        }

        if (deletes.Count > 0)
        {
            await Online.SwapAsync(deletes, new bool[deletes.Count], cancellationToken);
        }

        await Online.PutAsync(entries, cancellationToken);
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
