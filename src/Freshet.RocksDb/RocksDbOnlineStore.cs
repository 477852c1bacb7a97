using System.Collections.Concurrent;
using System.Text;
using Freshet.Online;
using RocksDbSharp;

namespace Freshet.RocksDb;

/// <summary>
/// The embedded online store: one RocksDB database in a directory. A row's key is the view name (a varint
/// byte length, then its UTF-8 bytes) followed by the encoded entity key, so every view owns one contiguous
/// key range and no view name can be mistaken for the start of another (<c>a</c> and <c>ab</c> differ in
/// their first byte). The value is the row as <see cref="RowCodec"/> encodes it.
/// </summary>
/// <remarks>
/// <para>
/// Durability: the write-ahead log is on and every <see cref="WriteAsync"/>, <see cref="PutAsync"/>,
/// <see cref="WriteAndPutAsync"/> and <see cref="SwapAsync"/> call is one atomic write batch, applied under the
/// stripe locks of its keys and then, once the locks are released, synced (the log is flushed and fsynced)
/// before the call returns. So when a call returns its rows survive a killed process or a power cut, a crash
/// never leaves half of a call applied, and a stream processor's tiles and offsets are stored together or
/// not at all. A row is visible to readers a moment before it is durable; a call that returned has synced
/// every batch it could have read.
/// </para>
/// <para>
/// State rows (<see cref="OnlinePut"/>) share the row key layout, their namespace in place of the view, so
/// <see cref="ReadAsync"/>, <see cref="DeleteViewAsync"/> and <see cref="ScanAsync"/> serve both.
/// <see cref="ScanAsync"/> streams from one iterator bounded to the prefix and sees the rows as they were when
/// its enumeration started.
/// </para>
/// <para>
/// Thread safety: every method but <see cref="DisposeAsync"/> may be called concurrently from any threads;
/// <see cref="PutAsync"/> takes the same stripe locks as <see cref="WriteAsync"/> for its keys. Newest-wins needs a read, a comparison and a write per key; writers
/// take striped locks (chosen by a hash of the key, entered in ascending order so two batches cannot
/// deadlock) and hold them until their batch is applied, so of two concurrent writers of one key the newer
/// row always ends up stored. Readers take no lock. <see cref="DisposeAsync"/> closes the database: call it
/// once, after every other call has returned and every scan has been enumerated to its end or disposed.
/// </para>
/// <para>
/// The methods block on the database (and on the disk flush for writes) and complete synchronously.
/// </para>
/// </remarks>
public sealed class RocksDbOnlineStore : IOnlineStore
{
    // Deletes of a large view are committed in pieces so one view does not build one enormous batch.
    private const int DeleteBatchSize = 4096;

    private readonly RocksDbSharp.RocksDb _db;
    private readonly DbOptions _dbOptions;
    private readonly WriteOptions _syncWrite;

    // Rows, puts and swaps are applied (write-ahead log and memtable) under their stripes without a sync, then
    // synced with SyncLog once the stripes are released and before the call returns.
    private readonly WriteOptions _applyWrite = new();
    private readonly Lock[] _stripes;
    private readonly int _stripeMask;
    private readonly ConcurrentDictionary<string, byte[]> _prefixes = new(StringComparer.Ordinal);
    private int _disposed;

    private RocksDbOnlineStore(RocksDbSharp.RocksDb db, DbOptions dbOptions, int stripes)
    {
        _db = db;
        _dbOptions = dbOptions;
        _syncWrite = new WriteOptions().SetSync(true);
        _stripes = new Lock[stripes];
        for (var i = 0; i < stripes; i++)
        {
            _stripes[i] = new Lock();
        }

        _stripeMask = stripes - 1;
    }

    /// <summary>Runs after a write call has read the stored rows and before it commits (tests widen races with it).</summary>
    internal Action<IReadOnlyList<OnlineWrite>>? BeforeCommit { get; set; }

    /// <summary>Runs after a put call has taken its locks and built its batch, just before it commits (tests inject faults with it).</summary>
    internal Action<IReadOnlyList<OnlinePut>>? BeforePutCommit { get; set; }

    /// <summary>
    /// The count of one of RocksDB's statistics tickers (e.g. <c>rocksdb.wal.synced</c>, the syncs of the write-ahead
    /// log); the store must have been opened with <see cref="RocksDbOnlineStoreOptions.Statistics"/>.
    /// </summary>
    internal long Ticker(string name)
    {
        var text = _dbOptions.GetStatisticsString() ?? throw new InvalidOperationException("the store was opened without statistics");
        foreach (var line in text.Split('\n'))
        {
            // "rocksdb.wal.synced COUNT : 3"
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is [var ticker, "COUNT", ":", var count] && ticker == name)
            {
                return long.Parse(count, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"RocksDB has no ticker '{name}'");
    }

    /// <summary>The directory holding the database.</summary>
    public string Directory => _db.Path;

    /// <summary>Opens the database in <paramref name="directory"/>, creating the directory and the database if missing.</summary>
    public static RocksDbOnlineStore Open(string directory, RocksDbOnlineStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new RocksDbOnlineStoreOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.BlockCacheBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(options.BloomFilterBitsPerKey);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.LockStripes, 1);

        System.IO.Directory.CreateDirectory(directory);
        var table = new BlockBasedTableOptions().SetBlockCache(Cache.CreateLru((ulong)options.BlockCacheBytes));
        if (options.BloomFilterBitsPerKey > 0)
        {
            table.SetFilterPolicy(BloomFilterPolicy.Create(options.BloomFilterBitsPerKey, false));
        }

        var dbOptions = new DbOptions()
            .SetCreateIfMissing(true)
            .SetBlockBasedTableFactory(table);
        if (options.Statistics)
        {
            dbOptions.EnableStatistics();
        }

        RocksDbSharp.RocksDb db;
        try
        {
            db = RocksDbSharp.RocksDb.Open(dbOptions, directory);
        }
        catch (RocksDbException e) when (e.Message.Contains("lock", StringComparison.OrdinalIgnoreCase))
        {
            throw new OnlineStoreBusyException($"the online store at {directory} is in use by another process (a running freshet serve?)", e);
        }

        return new RocksDbOnlineStore(db, dbOptions, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)options.LockStripes));
    }

    /// <inheritdoc />
    public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Commit(writes, [], cancellationToken));

    /// <inheritdoc />
    public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        Commit([], puts, cancellationToken);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One write batch committed with one sync: the newest-wins winners of <paramref name="writes"/>, then the
    /// puts in call order. A crash keeps all of it or none of it, and the call costs one fsync instead of two.
    /// </remarks>
    public ValueTask<int> WriteAndPutAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Commit(writes, puts, cancellationToken));

    // Validates every write and put before taking a lock, so a bad one refuses the whole call and stores nothing.
    private int Commit(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(writes);
        ArgumentNullException.ThrowIfNull(puts);
        cancellationToken.ThrowIfCancellationRequested();
        int w = writes.Count, p = puts.Count;
        if (w + p == 0)
        {
            return 0;
        }

        var writeKeys = new byte[w][];
        var putKeys = new byte[p][];
        var stripes = new int[w + p];
        for (var i = 0; i < w; i++)
        {
            var write = writes[i];

            // A malformed row stored once would make every later comparison on its key throw.
            if (write.Row is null || write.Row.Length <= RowCodec.HeaderSize)
            {
                throw new ArgumentException($"write {i} (view '{write.View}') does not hold an encoded row", nameof(writes));
            }

            writeKeys[i] = StoreKey(write.View, write.EntityKey);
            stripes[i] = ByteArrayComparer.Instance.GetHashCode(writeKeys[i]) & _stripeMask;
        }

        for (var i = 0; i < p; i++)
        {
            var put = puts[i];
            if (put.Namespace is null || put.Key is null)
            {
                throw new ArgumentException($"put {i} has no namespace or no key", nameof(puts));
            }

            // The stripes of puts only keep a newest-wins write of one of these keys from reading a row that
            // this put replaces between its read and its commit.
            putKeys[i] = StoreKey(put.Namespace, put.Key);
            stripes[w + i] = ByteArrayComparer.Instance.GetHashCode(putKeys[i]) & _stripeMask;
        }

        var distinct = SortDistinct(stripes);
        var entered = 0;
        int applied;
        try
        {
            entered = EnterStripes(stripes, distinct);
            applied = CommitLocked(writes, writeKeys, puts, putKeys);
        }
        finally
        {
            ExitStripes(stripes, entered);
        }

        SyncLog();
        return applied;
    }

    // Makes every batch applied so far durable: this call's, and any other call's whose row this call read (its
    // answer may rest on it). Done after the stripes are released, so writers of a hot key (a view's freshness
    // row, which every push puts) do not queue behind each other's fsync; concurrent syncs then overlap.
    private void SyncLog() => Native.Instance.rocksdb_flush_wal(_db.Handle, 1);

    /// <inheritdoc />
    /// <remarks>
    /// The stripes of every key are held from the read of the stored values to the commit of the swaps that
    /// matched (one batch, synced before the call returns), so no write of this process slips in between; RocksDB
    /// has one owning process.
    /// </remarks>
    public ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(swaps);
        ArgumentNullException.ThrowIfNull(applied);
        cancellationToken.ThrowIfCancellationRequested();
        var n = swaps.Count;
        if (applied.Length < n)
        {
            throw new ArgumentException($"applied holds {applied.Length} flags for {n} swaps", nameof(applied));
        }

        if (n == 0)
        {
            return ValueTask.CompletedTask;
        }

        var keys = new byte[n][];
        var stripes = new int[n];
        for (var i = 0; i < n; i++)
        {
            var swap = swaps[i];
            if (swap.Namespace is null || swap.Key is null)
            {
                throw new ArgumentException($"swap {i} has no namespace or no key", nameof(swaps));
            }

            keys[i] = StoreKey(swap.Namespace, swap.Key);
            stripes[i] = ByteArrayComparer.Instance.GetHashCode(keys[i]) & _stripeMask;
        }

        var distinct = SortDistinct(stripes);
        var entered = 0;
        try
        {
            entered = EnterStripes(stripes, distinct);
            var stored = _db.MultiGet(keys);
            using var batch = new WriteBatch();
            var any = false;
            for (var i = 0; i < n; i++)
            {
                var expected = swaps[i].Expected;
                var current = stored[i].Value;
                applied[i] = expected is null ? current is null : current is not null && current.AsSpan().SequenceEqual(expected);
                if (!applied[i])
                {
                    continue;
                }

                any = true;
                if (swaps[i].Value is { } value)
                {
                    batch.Put(keys[i], value);
                }
                else
                {
                    batch.Delete(keys[i]);
                }
            }

            if (any)
            {
                _db.Write(batch, _applyWrite);
            }
        }
        finally
        {
            ExitStripes(stripes, entered);
        }

        // Also when nothing matched: the refusal may rest on a value another call has not synced yet.
        SyncLog();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(prefix);
        return Scan(StoreKey(@namespace, prefix), ViewPrefix(@namespace).Length, cancellationToken).ToAsyncEnumerable();
    }

    // Streams the rows from one iterator (an implicit snapshot: rows put during the scan are not seen), bounded
    // above so RocksDB stops at the end of the prefix instead of reading into the next namespace's files.
    private IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] start, int namespaceLength, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var readOptions = new ReadOptions();
        if (UpperBound(start) is { } bound)
        {
            readOptions.SetIterateUpperBound(bound);
        }

        using var iterator = _db.NewIterator(readOptions: readOptions);
        for (iterator.Seek(start); iterator.Valid(); iterator.Next())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = iterator.GetKeySpan();
            if (!key.StartsWith(start))
            {
                yield break;
            }

            yield return new KeyValuePair<byte[], byte[]>(key[namespaceLength..].ToArray(), iterator.Value());
        }
    }

    /// <summary>The least key above every key that starts with <paramref name="prefix"/>; null when there is none (all 0xFF).</summary>
    internal static byte[]? UpperBound(ReadOnlySpan<byte> prefix)
    {
        for (var i = prefix.Length - 1; i >= 0; i--)
        {
            if (prefix[i] != 0xFF)
            {
                var bound = prefix[..(i + 1)].ToArray();
                bound[i]++;
                return bound;
            }
        }

        return null;
    }

    // Sorts the stripes and moves the distinct ones to the front; returns how many there are.
    private static int SortDistinct(int[] stripes)
    {
        Array.Sort(stripes);
        var distinct = 1;
        for (var i = 1; i < stripes.Length; i++)
        {
            if (stripes[i] != stripes[distinct - 1])
            {
                stripes[distinct++] = stripes[i];
            }
        }

        return distinct;
    }

    // Distinct stripes in ascending order: every writer takes them in the same order, so none deadlock. Returns
    // how many were entered; if entering throws, the ones already held are released.
    private int EnterStripes(int[] stripes, int distinct)
    {
        var entered = 0;
        try
        {
            for (; entered < distinct; entered++)
            {
                _stripes[stripes[entered]].Enter();
            }
        }
        catch
        {
            ExitStripes(stripes, entered);
            throw;
        }

        return entered;
    }

    private void ExitStripes(int[] stripes, int entered)
    {
        for (var i = entered - 1; i >= 0; i--)
        {
            _stripes[stripes[i]].Exit();
        }
    }

    // Runs with the stripes of every key held: what MultiGet returns stays the stored row until the batch lands.
    private int CommitLocked(IReadOnlyList<OnlineWrite> writes, byte[][] writeKeys, IReadOnlyList<OnlinePut> puts, byte[][] putKeys)
    {
        var applied = 0;
        Dictionary<byte[], byte[]>? winners = null;
        if (writeKeys.Length > 0)
        {
            var stored = _db.MultiGet(writeKeys);

            // A key may appear more than once in a call; each write is compared with the newest row so far.
            winners = new Dictionary<byte[], byte[]>(writeKeys.Length, ByteArrayComparer.Instance);
            for (var i = 0; i < writeKeys.Length; i++)
            {
                var row = writes[i].Row;
                if (!winners.TryGetValue(writeKeys[i], out var current))
                {
                    current = stored[i].Value;
                }

                if (current is null || RowCodec.Supersedes(row, current))
                {
                    winners[writeKeys[i]] = row;
                    applied++;
                }
            }

            BeforeCommit?.Invoke(writes);
        }

        if (putKeys.Length > 0)
        {
            BeforePutCommit?.Invoke(puts);
        }

        if (winners is not { Count: > 0 } && putKeys.Length == 0)
        {
            return applied;
        }

        using var batch = new WriteBatch();
        if (winners is not null)
        {
            foreach (var (key, row) in winners)
            {
                batch.Put(key, row);
            }
        }

        // After the rows and in call order, so of two puts of one key (or a write and a put) the later one is
        // what the batch leaves stored.
        for (var i = 0; i < putKeys.Length; i++)
        {
            if (puts[i].Value is { } value)
            {
                batch.Put(putKeys[i], value);
            }
            else
            {
                batch.Delete(putKeys[i]);
            }
        }

        _db.Write(batch, _applyWrite);
        return applied;
    }

    /// <inheritdoc />
    public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var n = keys.Count;
        if (rows.Length < n)
        {
            throw new ArgumentException($"room for {rows.Length} rows, {n} keys asked for", nameof(rows));
        }

        if (n == 0)
        {
            return ValueTask.CompletedTask;
        }

        var storeKeys = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            storeKeys[i] = StoreKey(keys[i].View, keys[i].EntityKey);
        }

        // One MultiGet for every view and key of the request: RocksDB batches the lookups per memtable and file.
        var found = _db.MultiGet(storeKeys);
        for (var i = 0; i < n; i++)
        {
            rows[i] = found[i].Value;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var prefix = ViewPrefix(view);
        var removed = 0L;
        using var iterator = _db.NewIterator();
        using var batch = new WriteBatch();
        for (iterator.Seek(prefix); iterator.Valid(); iterator.Next())
        {
            var key = iterator.GetKeySpan();
            if (!key.StartsWith(prefix))
            {
                break;
            }

            // Rows are deleted one by one rather than by range so the count is exactly what was removed.
            batch.Delete(key);
            removed++;
            if (batch.Count() >= DeleteBatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _db.Write(batch, _syncWrite);
                batch.Clear();
            }
        }

        if (batch.Count() > 0)
        {
            _db.Write(batch, _syncWrite);
        }

        return ValueTask.FromResult(removed);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _db.Dispose();
            GC.KeepAlive(_dbOptions);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The first bytes of every key of <paramref name="view"/>: its UTF-8 byte length as a varint, then the bytes.</summary>
    internal static byte[] EncodeViewPrefix(string view)
    {
        var name = Encoding.UTF8.GetBytes(view);
        var prefix = new byte[5 + name.Length];
        var n = Varint.Write(prefix, (uint)name.Length);
        name.CopyTo(prefix, n);
        return prefix[..(n + name.Length)];
    }

    private byte[] ViewPrefix(string view) => _prefixes.GetOrAdd(view, EncodeViewPrefix);

    private byte[] StoreKey(string view, byte[] entityKey)
    {
        var prefix = ViewPrefix(view);
        var key = new byte[prefix.Length + entityKey.Length];
        prefix.CopyTo(key, 0);
        entityKey.CopyTo(key, prefix.Length);
        return key;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
