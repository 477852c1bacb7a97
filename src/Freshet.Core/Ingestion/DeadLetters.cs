using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using Freshet.Online;

namespace Freshet.Ingestion;

/// <summary>
/// An event that ingestion could not apply, kept with why (DESIGN §3: bad or late events are counted and
/// logged, never dropped silently) so an operator can list it and replay it.
/// </summary>
/// <param name="Id">Assigned by the store when the letter is added (any value given is replaced); ids only grow.</param>
/// <param name="Source">The source the event came from (a stream source or push endpoint name).</param>
/// <param name="Reason">What was wrong, for a person.</param>
/// <param name="Code">What was wrong, for a program: one of <see cref="DeadLetterCodes"/> or another stable snake_case code.</param>
/// <param name="At">When the event was refused.</param>
/// <param name="Payload">The event's bytes exactly as received (they need not be valid UTF-8).</param>
/// <param name="View">The feature view the event was meant for, when known.</param>
/// <param name="Partition">The source partition it was read from, when the source has partitions.</param>
/// <param name="Offset">Its offset in that partition, when the source has offsets.</param>
public sealed record DeadLetter(
    long Id,
    string Source,
    string Reason,
    string Code,
    DateTimeOffset At,
    byte[] Payload,
    string? View = null,
    string? Partition = null,
    long? Offset = null);

/// <summary>The stable machine codes of <see cref="DeadLetter.Code"/> that Freshet itself emits.</summary>
public static class DeadLetterCodes
{
    /// <summary>The event's tile is no longer retained (older than now - max window - hop - allowed lateness).</summary>
    public const string TooLate = "too_late";

    /// <summary>The event's time is further ahead of the clock than allowed.</summary>
    public const string TooFarInFuture = "too_far_in_future";

    /// <summary>A field the view needs (a join key, the timestamp, an aggregated column) is absent.</summary>
    public const string MissingField = "missing_field";

    /// <summary>A field holds a value of the wrong type.</summary>
    public const string WrongType = "wrong_type";

    /// <summary>The payload is not valid JSON.</summary>
    public const string BadJson = "bad_json";

    /// <summary>The event timestamp cannot be parsed or is out of range.</summary>
    public const string BadTimestamp = "bad_timestamp";

    /// <summary>A stored letter that could not be decoded; its <see cref="DeadLetter.Payload"/> is the stored bytes.</summary>
    public const string Undecodable = "undecodable";
}

/// <summary>Where dead letters are kept. Implementations are safe to call from many threads.</summary>
public interface IDeadLetterStore
{
    /// <summary>Adds letters durably, all or none, giving each a new id (the ids in the records are ignored).</summary>
    ValueTask AddAsync(IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken = default);

    /// <summary>
    /// Letters in id order with an id above <paramref name="afterId"/>, at most <paramref name="limit"/> of them,
    /// only those of <paramref name="source"/> when given. Page by passing the last id seen as <paramref name="afterId"/>.
    /// </summary>
    IAsyncEnumerable<DeadLetter> ListAsync(string? source = null, long afterId = 0, int limit = 1000, CancellationToken cancellationToken = default);

    /// <summary>How many letters are stored, of <paramref name="source"/> or of every source.</summary>
    ValueTask<long> CountAsync(string? source = null, CancellationToken cancellationToken = default);

    /// <summary>Removes the letters with these ids (after a replay, say); returns how many there were.</summary>
    ValueTask<int> RemoveAsync(IReadOnlyList<long> ids, CancellationToken cancellationToken = default);
}

/// <summary>
/// Dead letters kept as state rows of an <see cref="IOnlineStore"/>: namespace <see cref="Namespace"/>, key the
/// id as 8 big-endian bytes (so a scan meets them in id order), value a versioned binary record. Per-source
/// counts are rows of <see cref="CountsNamespace"/> put in the same atomic batch as the letters they count, so
/// they never disagree with them and <see cref="CountAsync"/> needs no scan.
/// </summary>
/// <remarks>
/// <para>
/// Ids: each is the greater of the last id + 1 and the current Unix time in microseconds, and the highest id
/// handed out is stored with every batch, so ids keep growing across restarts (even if two prepared batches
/// commit out of order, the clock has moved past both by the next open).
/// </para>
/// <para>
/// A letter with a stream position (partition and offset) has a position id instead
/// (<see cref="PositionId"/>), so a replayed rejection rewrites the same record. On a shared store
/// (<see cref="IOnlineStore.IsShared"/>) letters are created with <see cref="RecordAsync"/> (compare-and-set),
/// counts are counted from the letter rows, and no count rows are written (docs/scale-out.md).
/// </para>
/// <para>
/// One store object per online store: the counts and the next id are kept in memory, loaded by
/// <see cref="OpenAsync"/>. <see cref="AddAsync"/> and <see cref="RemoveAsync"/> run one at a time, so their
/// counter rows are committed in the order they were computed. A caller that commits <see cref="Prepare"/>d
/// puts itself (a stream processor, with its tiles and offsets) should likewise commit them in the order it
/// prepared them, and call <see cref="Abandon"/> for a batch whose commit failed.
/// </para>
/// </remarks>
public sealed class OnlineDeadLetterStore : IDeadLetterStore
{
    /// <summary>The namespace of the letters.</summary>
    public const string Namespace = "__dead_letters";

    /// <summary>The namespace of the per-source counts and the highest id handed out.</summary>
    public const string CountsNamespace = "__dead_letter_counts";

    /// <summary>
    /// The lowest id of a letter with a stream position (a partition and an offset): such a letter's id is
    /// this plus a 62-bit hash of (source, partition, offset, view), so the same rejection replayed gets the same
    /// id. Letters without a position (push) have time-based ids, all below it.
    /// </summary>
    public const long PositionIdBase = 1L << 62;

    private const byte MetaKey = 0;
    private const byte CountKey = 1;

    private readonly IOnlineStore _store;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _commit = new(1, 1);
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private long _nextId;

    private OnlineDeadLetterStore(IOnlineStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>Opens the dead letters kept in <paramref name="store"/>, loading their counts (one short scan).</summary>
    public static async ValueTask<OnlineDeadLetterStore> OpenAsync(IOnlineStore store, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var letters = new OnlineDeadLetterStore(store, time ?? TimeProvider.System);
        var highest = 0L;
        await foreach (var row in store.ScanAsync(CountsNamespace, [], cancellationToken).ConfigureAwait(false))
        {
            if (row.Value.Length != 8 || row.Key.Length == 0)
            {
                continue;
            }

            var value = BinaryPrimitives.ReadInt64BigEndian(row.Value);
            if (row.Key[0] == MetaKey)
            {
                highest = value;
            }
            else if (row.Key[0] == CountKey && value > 0)
            {
                letters._counts[Encoding.UTF8.GetString(row.Key.AsSpan(1))] = value;
            }
        }

        letters._nextId = Math.Max(highest, 0) + 1;
        return letters;
    }

    /// <inheritdoc />
    public async ValueTask AddAsync(IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(letters);
        if (letters.Count == 0)
        {
            return;
        }

        if (_store.IsShared)
        {
            await RecordAsync(letters, cancellationToken).ConfigureAwait(false);
            return;
        }

        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A letter whose position is recorded already (the same rejection added again) is not counted twice.
            letters = await WithoutRecordedPositionsAsync(letters, cancellationToken).ConfigureAwait(false);
            if (letters.Count == 0)
            {
                return;
            }

            var puts = Prepare(letters);
            try
            {
                await _store.PutAsync(puts, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                Abandon(puts);
                throw;
            }
        }
        finally
        {
            _commit.Release();
        }
    }

    /// <summary>
    /// Gives each letter a new id and returns the puts that store them and their updated counts, for the caller
    /// to commit in one <see cref="IOnlineStore.PutAsync"/>, with other puts of its own if it likes (a stream
    /// processor adds them to the batch holding its tiles and offsets, so a refused event is recorded exactly
    /// when the offset past it is).
    /// </summary>
    public IReadOnlyList<OnlinePut> Prepare(IReadOnlyList<DeadLetter> letters)
    {
        ArgumentNullException.ThrowIfNull(letters);
        Validate(letters);
        var puts = new List<OnlinePut>(letters.Count + 2);
        var sources = new HashSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            var id = Math.Max(_nextId, NowMicros());
            foreach (var letter in letters)
            {
                // A letter with a stream position has the id of that position, so a replay rewrites it.
                var letterId = PositionId(letter) ?? id++;
                puts.Add(new OnlinePut(Namespace, IdKey(letterId), DeadLetterCodec.Encode(letter)));
                _counts[letter.Source] = _counts.GetValueOrDefault(letter.Source) + 1;
                sources.Add(letter.Source);
            }

            _nextId = id;
            foreach (var source in sources)
            {
                puts.Add(CountPut(source, _counts[source]));
            }

            puts.Add(new OnlinePut(CountsNamespace, [MetaKey], Int64Value(id - 1)));
        }

        return puts;
    }

    /// <summary>
    /// Takes back the counts of puts from <see cref="Prepare"/> that were not committed (their ids are not
    /// reused). Call it once per failed batch.
    /// </summary>
    public void Abandon(IReadOnlyList<OnlinePut> prepared)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        lock (_gate)
        {
            foreach (var put in prepared)
            {
                if (put.Namespace == Namespace && put.Value is { } value && DeadLetterCodec.TryReadSource(value, out var source))
                {
                    Decrement(source);
                }
            }
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<DeadLetter> ListAsync(string? source = null, long afterId = 0, int limit = 1000, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        long last;
        lock (_gate)
        {
            last = _nextId - 1;
        }

        var first = Math.Max(afterId, 0) + 1;
        if (limit == 0)
        {
            yield break;
        }

        // The contract has prefix scans, not range scans: the time ids from first to last are covered by a few
        // prefixes (whole blocks of 256^k ids), scanned in order, so a later page does not rescan earlier ones;
        // position ids follow, one prefix per top byte. On a shared store other processes hand out time ids this
        // one has not seen, so a later page scans the whole namespace from the start (skipping ids below first).
        var listed = 0;
        foreach (var prefix in ListPrefixes(afterId, first, last))
        {
            await foreach (var row in _store.ScanAsync(Namespace, prefix, cancellationToken).ConfigureAwait(false))
            {
                if (row.Key.Length != 8)
                {
                    continue;
                }

                var letter = DeadLetterCodec.Decode(BinaryPrimitives.ReadInt64BigEndian(row.Key), row.Value);
                if (letter.Id < first || (source is not null && letter.Source != source))
                {
                    continue;
                }

                yield return letter;
                if (++listed == limit)
                {
                    yield break;
                }
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<long> CountAsync(string? source = null, CancellationToken cancellationToken = default)
    {
        if (_store.IsShared)
        {
            return CountRowsAsync(source, cancellationToken);
        }

        lock (_gate)
        {
            if (source is not null)
            {
                return ValueTask.FromResult(_counts.GetValueOrDefault(source));
            }

            var total = 0L;
            foreach (var count in _counts.Values)
            {
                total += count;
            }

            return ValueTask.FromResult(total);
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> RemoveAsync(IReadOnlyList<long> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var distinct = new List<long>(new HashSet<long>(ids));
        if (distinct.Count == 0)
        {
            return 0;
        }

        await _commit.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var keys = new OnlineKey[distinct.Count];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = new OnlineKey(Namespace, IdKey(distinct[i]));
            }

            var rows = new byte[]?[keys.Length];
            await _store.ReadAsync(keys, rows, cancellationToken).ConfigureAwait(false);
            var puts = new List<OnlinePut>();
            var removed = new List<string>();
            for (var i = 0; i < keys.Length; i++)
            {
                if (rows[i] is not { } row)
                {
                    continue;
                }

                puts.Add(new OnlinePut(Namespace, keys[i].EntityKey, null));

                // An undecodable letter was counted under a source we cannot read back; it leaves the counts be.
                if (DeadLetterCodec.TryReadSource(row, out var source))
                {
                    removed.Add(source);
                }
            }

            if (puts.Count == 0)
            {
                return 0;
            }

            // The puts so far are the letters' deletes; the count rows follow (on a shared store counts are the rows).
            var letterDeletes = puts.Count;
            if (_store.IsShared)
            {
                await _store.PutAsync(puts, cancellationToken).ConfigureAwait(false);
                return letterDeletes;
            }

            lock (_gate)
            {
                var sources = new HashSet<string>(StringComparer.Ordinal);
                foreach (var source in removed)
                {
                    Decrement(source);
                    sources.Add(source);
                }

                foreach (var source in sources)
                {
                    puts.Add(CountPut(source, _counts.GetValueOrDefault(source)));
                }
            }

            try
            {
                await _store.PutAsync(puts, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                lock (_gate)
                {
                    foreach (var source in removed)
                    {
                        _counts[source] = _counts.GetValueOrDefault(source) + 1;
                    }
                }

                throw;
            }

            return letterDeletes;
        }
        finally
        {
            _commit.Release();
        }
    }

    /// <summary>
    /// Stores letters on a shared store (<see cref="IOnlineStore.IsShared"/>), each with a compare-and-set that
    /// only creates a row: a letter with a stream position whose id is taken by the same rejection (source,
    /// partition, offset, view) is a replay and is not stored again; an id taken by another letter (a hash
    /// collision, or a time id another process handed out) moves the letter to the next free id. Returns how many
    /// letters were new. Counts need no update: on a shared store they are counted from the rows.
    /// </summary>
    public async ValueTask<int> RecordAsync(IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(letters);
        Validate(letters);
        var pending = new List<(DeadLetter Letter, long Id, byte[] Value)>(letters.Count);
        lock (_gate)
        {
            var id = Math.Max(_nextId, NowMicros());
            foreach (var letter in letters)
            {
                pending.Add((letter, PositionId(letter) ?? id++, DeadLetterCodec.Encode(letter)));
            }

            _nextId = id;
        }

        var added = 0;
        while (pending.Count > 0)
        {
            // A key appears at most once per swap call: a second letter on an id waits for the next round.
            var taken = new HashSet<long>();
            var round = new List<(DeadLetter Letter, long Id, byte[] Value)>(pending.Count);
            var later = new List<(DeadLetter Letter, long Id, byte[] Value)>();
            foreach (var p in pending)
            {
                (taken.Add(p.Id) ? round : later).Add(p);
            }

            var swaps = new OnlineSwap[round.Count];
            for (var i = 0; i < round.Count; i++)
            {
                swaps[i] = new OnlineSwap(Namespace, IdKey(round[i].Id), null, round[i].Value);
            }

            var ok = new bool[swaps.Length];
            await _store.SwapAsync(swaps, ok, cancellationToken).ConfigureAwait(false);
            var refused = new List<int>();
            for (var i = 0; i < round.Count; i++)
            {
                if (ok[i])
                {
                    added++;
                }
                else
                {
                    refused.Add(i);
                }
            }

            if (refused.Count > 0)
            {
                var keys = new OnlineKey[refused.Count];
                for (var i = 0; i < keys.Length; i++)
                {
                    keys[i] = new OnlineKey(Namespace, swaps[refused[i]].Key);
                }

                var rows = new byte[]?[keys.Length];
                await _store.ReadAsync(keys, rows, cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < refused.Count; i++)
                {
                    var (letter, id, value) = round[refused[i]];
                    if (letter.Offset is not null && rows[i] is { } row && SamePosition(letter, DeadLetterCodec.Decode(id, row)))
                    {
                        continue;
                    }

                    // Taken by another letter (or removed since the refusal: then the same id is tried again).
                    later.Add((letter, rows[i] is null ? id : NextId(letter, id), value));
                }
            }

            pending = later;
        }

        return added;
    }

    private async ValueTask<IReadOnlyList<DeadLetter>> WithoutRecordedPositionsAsync(IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken)
    {
        Validate(letters);
        var positioned = new List<int>();
        for (var i = 0; i < letters.Count; i++)
        {
            if (letters[i].Offset is not null && letters[i].Partition is not null)
            {
                positioned.Add(i);
            }
        }

        if (positioned.Count == 0)
        {
            return letters;
        }

        var keys = new OnlineKey[positioned.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = new OnlineKey(Namespace, IdKey(PositionId(letters[positioned[i]])!.Value));
        }

        var rows = new byte[]?[keys.Length];
        await _store.ReadAsync(keys, rows, cancellationToken).ConfigureAwait(false);
        var skip = new HashSet<int>();
        var inCall = new Dictionary<long, DeadLetter>();
        for (var i = 0; i < keys.Length; i++)
        {
            var letter = letters[positioned[i]];
            var id = PositionId(letter)!.Value;
            if ((rows[i] is { } row && SamePosition(letter, DeadLetterCodec.Decode(id, row)))
                || (inCall.TryGetValue(id, out var earlier) && SamePosition(letter, earlier)))
            {
                skip.Add(positioned[i]);
            }

            inCall.TryAdd(id, letter);
        }

        if (skip.Count == 0)
        {
            return letters;
        }

        var kept = new List<DeadLetter>(letters.Count - skip.Count);
        for (var i = 0; i < letters.Count; i++)
        {
            if (!skip.Contains(i))
            {
                kept.Add(letters[i]);
            }
        }

        return kept;
    }

    private long NextId(DeadLetter letter, long id)
    {
        if (letter.Offset is not null)
        {
            return id == long.MaxValue ? PositionIdBase : id + 1;
        }

        lock (_gate)
        {
            var next = Math.Max(_nextId, NowMicros());
            _nextId = next + 1;
            return next;
        }
    }

    private static bool SamePosition(DeadLetter letter, DeadLetter stored) =>
        stored.Source == letter.Source && stored.Partition == letter.Partition && stored.Offset == letter.Offset && stored.View == letter.View;

    /// <summary>
    /// The id of a letter with a stream position: <see cref="PositionIdBase"/> plus a stable 62-bit hash of its
    /// source, partition, offset and view; null for a letter without one (it gets a time-based id).
    /// </summary>
    public static long? PositionId(DeadLetter letter)
    {
        ArgumentNullException.ThrowIfNull(letter);
        if (letter.Partition is not { } partition || letter.Offset is not { } offset)
        {
            return null;
        }

        // Lengths first so that no two different positions give the same bytes.
        var text = Encoding.UTF8.GetBytes(letter.Source + "\0" + partition + "\0" + (letter.View ?? ""));
        var bytes = new byte[text.Length + 8 + 4 + 1];
        BinaryPrimitives.WriteInt32BigEndian(bytes, Encoding.UTF8.GetByteCount(letter.Source));
        bytes[4] = letter.View is null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(5), offset);
        text.CopyTo(bytes, 13);
        return PositionIdBase | (long)(Aggregates.StableHash.OfBytes(bytes) & ((1UL << 62) - 1));
    }

    private async ValueTask<long> CountRowsAsync(string? source, CancellationToken cancellationToken)
    {
        var count = 0L;
        await foreach (var row in _store.ScanAsync(Namespace, [], cancellationToken).ConfigureAwait(false))
        {
            if (row.Key.Length == 8 && (source is null || (DeadLetterCodec.TryReadSource(row.Value, out var s) && s == source)))
            {
                count++;
            }
        }

        return count;
    }

    private long NowMicros() => (_time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;

    private static void Validate(IReadOnlyList<DeadLetter> letters)
    {
        for (var i = 0; i < letters.Count; i++)
        {
            var l = letters[i] ?? throw new ArgumentException($"letter {i} is null", nameof(letters));
            if (l.Source is null || l.Reason is null || l.Code is null || l.Payload is null)
            {
                throw new ArgumentException($"letter {i} lacks a source, reason, code or payload", nameof(letters));
            }
        }
    }

    private IEnumerable<byte[]> ListPrefixes(long afterId, long first, long last)
    {
        if (afterId <= 0 || _store.IsShared)
        {
            yield return [];
            yield break;
        }

        if (first <= last && first < PositionIdBase)
        {
            foreach (var prefix in IdPrefixes((ulong)first, (ulong)Math.Min(last, PositionIdBase - 1)))
            {
                yield return prefix;
            }
        }

        for (var top = Math.Max(PositionIdBase, first) >> 56; top <= long.MaxValue >> 56; top++)
        {
            yield return [(byte)top];
        }
    }

    /// <summary>
    /// Prefixes of 8-byte big-endian keys that together match exactly the ids <paramref name="first"/> to
    /// <paramref name="last"/>, in ascending order: each is the longest aligned block that fits the rest of the range.
    /// </summary>
    internal static IEnumerable<byte[]> IdPrefixes(ulong first, ulong last)
    {
        var low = first;
        while (low <= last)
        {
            // The widest block of 256^free ids starting at low that stays within the range.
            var free = 0;
            while (free < 8)
            {
                var mask = free == 7 ? ulong.MaxValue : (1UL << (8 * (free + 1))) - 1;
                if ((low & mask) != 0 || last - low < mask)
                {
                    break;
                }

                free++;
            }

            var key = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(key, low);
            yield return key[..(8 - free)];
            var blockEnd = low + (free == 8 ? ulong.MaxValue : (1UL << (8 * free)) - 1);
            if (blockEnd >= last)
            {
                yield break;
            }

            low = blockEnd + 1;
        }
    }

    private static byte[] IdKey(long id)
    {
        var key = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(key, id);
        return key;
    }

    private static byte[] Int64Value(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        return bytes;
    }

    private static OnlinePut CountPut(string source, long count)
    {
        var key = new byte[1 + Encoding.UTF8.GetByteCount(source)];
        key[0] = CountKey;
        Encoding.UTF8.GetBytes(source, key.AsSpan(1));
        return new OnlinePut(CountsNamespace, key, count > 0 ? Int64Value(count) : null);
    }

    // Runs under _gate.
    private void Decrement(string source)
    {
        if (_counts.TryGetValue(source, out var count))
        {
            if (count <= 1)
            {
                _counts.Remove(source);
            }
            else
            {
                _counts[source] = count - 1;
            }
        }
    }
}

/// <summary>
/// The stored form of a <see cref="DeadLetter"/> (its id is the row key): a version byte (1), a flags byte
/// (1 view, 2 partition, 4 offset), the time as big-endian UTC ticks, source, reason and code, the optional
/// fields the flags name, then the payload. Strings and the payload are a varint byte length and the bytes.
/// </summary>
internal static class DeadLetterCodec
{
    internal const byte Version = 1;

    private const byte HasView = 1;
    private const byte HasPartition = 2;
    private const byte HasOffset = 4;

    internal static byte[] Encode(DeadLetter letter)
    {
        var size = 2 + 8 + StringSize(letter.Source) + StringSize(letter.Reason) + StringSize(letter.Code)
            + (letter.View is null ? 0 : StringSize(letter.View))
            + (letter.Partition is null ? 0 : StringSize(letter.Partition))
            + (letter.Offset is null ? 0 : 8)
            + 5 + letter.Payload.Length;
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        span[0] = Version;
        span[1] = (byte)((letter.View is null ? 0 : HasView) | (letter.Partition is null ? 0 : HasPartition) | (letter.Offset is null ? 0 : HasOffset));
        BinaryPrimitives.WriteInt64BigEndian(span[2..], letter.At.UtcTicks);
        var at = 10;
        at += WriteString(span[at..], letter.Source);
        at += WriteString(span[at..], letter.Reason);
        at += WriteString(span[at..], letter.Code);
        if (letter.View is not null)
        {
            at += WriteString(span[at..], letter.View);
        }

        if (letter.Partition is not null)
        {
            at += WriteString(span[at..], letter.Partition);
        }

        if (letter.Offset is { } offset)
        {
            BinaryPrimitives.WriteInt64BigEndian(span[at..], offset);
            at += 8;
        }

        at += Varint.Write(span[at..], (uint)letter.Payload.Length);
        letter.Payload.CopyTo(span[at..]);
        return buffer[..(at + letter.Payload.Length)];
    }

    /// <summary>Decodes a stored letter; a row it cannot read (damaged, or of a later version) comes back as an <see cref="DeadLetterCodes.Undecodable"/> letter holding the stored bytes, never an exception.</summary>
    internal static DeadLetter Decode(long id, byte[] stored)
    {
        var reader = new Reader(stored);
        if (reader.Byte(out var version) && version == Version
            && reader.Byte(out var flags) && (flags & ~(HasView | HasPartition | HasOffset)) == 0
            && reader.Int64(out var ticks) && ticks >= DateTimeOffset.MinValue.UtcTicks && ticks <= DateTimeOffset.MaxValue.UtcTicks
            && reader.String(out var source) && reader.String(out var reason) && reader.String(out var code))
        {
            string? view = null, partition = null;
            long? offset = null;
            var ok = ((flags & HasView) == 0 || reader.String(out view))
                && ((flags & HasPartition) == 0 || reader.String(out partition));
            if (ok && (flags & HasOffset) != 0)
            {
                ok = reader.Int64(out var o);
                offset = o;
            }

            if (ok && reader.Bytes(out var payload) && reader.AtEnd)
            {
                return new DeadLetter(id, source, reason, code, new DateTimeOffset(ticks, TimeSpan.Zero), payload, view, partition, offset);
            }
        }

        return new DeadLetter(id, "", $"stored dead letter {id} could not be decoded ({stored.Length} bytes, version {(stored.Length > 0 ? stored[0] : 0)})", DeadLetterCodes.Undecodable, DateTimeOffset.UnixEpoch, stored);
    }

    /// <summary>Reads only the source of a stored letter (to keep the counts when it is removed).</summary>
    internal static bool TryReadSource(byte[] stored, out string source)
    {
        var reader = new Reader(stored);
        source = "";
        return reader.Byte(out var version) && version == Version && reader.Byte(out _) && reader.Int64(out _) && reader.String(out source);
    }

    private static int StringSize(string value) => 5 + Encoding.UTF8.GetByteCount(value);

    private static int WriteString(Span<byte> span, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var n = Varint.Write(span, (uint)length);
        Encoding.UTF8.GetBytes(value, span[n..]);
        return n + length;
    }

    // Every read checks the bounds and reports failure instead of throwing.
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public readonly bool AtEnd => _at == _data.Length;

        public bool Byte(out byte value)
        {
            value = 0;
            if (_at >= _data.Length)
            {
                return false;
            }

            value = _data[_at++];
            return true;
        }

        public bool Int64(out long value)
        {
            value = 0;
            if (_data.Length - _at < 8)
            {
                return false;
            }

            value = BinaryPrimitives.ReadInt64BigEndian(_data[_at..]);
            _at += 8;
            return true;
        }

        public bool String(out string value)
        {
            value = "";
            if (!Length(out var length))
            {
                return false;
            }

            value = Encoding.UTF8.GetString(_data.Slice(_at, length));
            _at += length;
            return true;
        }

        public bool Bytes(out byte[] value)
        {
            value = [];
            if (!Length(out var length))
            {
                return false;
            }

            value = _data.Slice(_at, length).ToArray();
            _at += length;
            return true;
        }

        // A varint length no longer than what is left.
        private bool Length(out int length)
        {
            length = 0;
            var value = 0u;
            for (var i = 0; i < 5; i++)
            {
                if (_at >= _data.Length)
                {
                    return false;
                }

                var b = _data[_at++];
                value |= (uint)(b & 0x7F) << (7 * i);
                if (b < 0x80)
                {
                    if (value > (uint)(_data.Length - _at))
                    {
                        return false;
                    }

                    length = (int)value;
                    return true;
                }
            }

            return false;
        }
    }
}
