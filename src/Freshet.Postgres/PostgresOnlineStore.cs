using System.Runtime.CompilerServices;
using Freshet.Online;
using Npgsql;
using NpgsqlTypes;

namespace Freshet.Postgres;

/// <summary>
/// The online store in PostgreSQL, the durable tier that several processes share: one table,
/// <c>freshet_online(view, key, event_micros, created_micros, value)</c>, keyed by (view, key). Feature rows
/// carry their event and created times in columns, so newest-wins is decided by the server inside the upsert;
/// state rows (<see cref="OnlinePut"/>) leave them null.
/// </summary>
/// <remarks>
/// <para>
/// Round trips: every call is one statement, so one round trip. <see cref="WriteAsync"/> sends its batch as
/// arrays that the statement unnests; <see cref="ReadAsync"/> looks up every key of a request (all views) with
/// one join against the unnested keys and answers in request order; <see cref="PutAsync"/> deletes and upserts
/// in one statement (all or none: a statement is atomic); <see cref="SwapAsync"/> does its inserts, updates and
/// deletes in one statement, each conditioned on the stored value.
/// </para>
/// <para>
/// Durability: statements run in autocommit; when a call returns its statement has committed, which with the
/// server's default <c>synchronous_commit = on</c> means its WAL is flushed to disk.
/// </para>
/// <para>
/// Concurrency: the newest-wins comparison is the upsert's <c>WHERE</c>, evaluated under the row lock against
/// the latest committed row, so of two concurrent writers of one key, from any processes, the newer row ends up
/// stored. Thread safe; the data source pools connections.
/// </para>
/// </remarks>
public sealed class PostgresOnlineStore : IOnlineStore
{
    /// <summary>The table holding rows and state rows.</summary>
    public const string TableName = "freshet_online";

    private const string Ddl = """
        CREATE TABLE IF NOT EXISTS freshet_online (
            view text COLLATE "C" NOT NULL,
            key bytea NOT NULL,
            event_micros bigint,
            created_micros bigint,
            value bytea NOT NULL,
            PRIMARY KEY (view, key));
        """;

    // Duplicate keys of one call are reduced to their newest write first (an upsert cannot touch one row twice);
    // ties go to the later write. The old timestamps let the caller count how many writes of each key replaced
    // something: the outer SELECT reads the table as of the statement's snapshot, so it sees the rows the upsert
    // replaced, not the new ones (all parts of one statement share one snapshot).
    private const string WriteSql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[], $5::bytea[]) WITH ORDINALITY
                AS w(view, key, event_micros, created_micros, value, ord)),
        winner AS (
            SELECT DISTINCT ON (view, key) * FROM input ORDER BY view, key, event_micros DESC, created_micros DESC, ord DESC),
        up AS (
            INSERT INTO freshet_online AS t (view, key, event_micros, created_micros, value)
            SELECT view, key, event_micros, created_micros, value FROM winner
            ON CONFLICT (view, key) DO UPDATE
                SET event_micros = excluded.event_micros, created_micros = excluded.created_micros, value = excluded.value
                WHERE t.event_micros IS NULL
                   OR (excluded.event_micros, excluded.created_micros) >= (t.event_micros, t.created_micros)
            RETURNING t.view, t.key)
        SELECT w.ord, o.event_micros, o.created_micros, u.key IS NOT NULL
        FROM winner w
        LEFT JOIN freshet_online o ON o.view = w.view AND o.key = w.key
        LEFT JOIN up u ON u.view = w.view AND u.key = w.key
        """;

    private const string ReadSql = """
        SELECT r.ord, t.value
        FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS r(view, key, ord)
        JOIN freshet_online t ON t.view = r.view AND t.key = r.key
        """;

    // The last put of a key in the call wins; deletes and upserts touch different keys, so one statement does both.
    private const string PutSql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS p(view, key, value, ord)),
        last AS (
            SELECT DISTINCT ON (view, key) view, key, value FROM input ORDER BY view, key, ord DESC),
        gone AS (
            DELETE FROM freshet_online t USING last l WHERE l.value IS NULL AND t.view = l.view AND t.key = l.key)
        INSERT INTO freshet_online AS t (view, key, event_micros, created_micros, value)
        SELECT view, key, NULL, NULL, value FROM last WHERE value IS NOT NULL
        ON CONFLICT (view, key) DO UPDATE SET event_micros = NULL, created_micros = NULL, value = excluded.value
        """;

    // Each swap is conditioned on the stored value: an insert where none is expected, an update or a delete where
    // one is (re-checked by the server against the latest row when another writer got there first).
    private const string SwapSql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[]) WITH ORDINALITY AS s(view, key, expected, value, ord)),
        ins AS (
            INSERT INTO freshet_online AS t (view, key, event_micros, created_micros, value)
            SELECT view, key, NULL, NULL, value FROM input WHERE expected IS NULL AND value IS NOT NULL
            ON CONFLICT (view, key) DO NOTHING
            RETURNING t.view, t.key),
        upd AS (
            UPDATE freshet_online t SET value = i.value, event_micros = NULL, created_micros = NULL
            FROM input i
            WHERE i.expected IS NOT NULL AND i.value IS NOT NULL AND t.view = i.view AND t.key = i.key AND t.value = i.expected
            RETURNING i.ord),
        del AS (
            DELETE FROM freshet_online t USING input i
            WHERE i.expected IS NOT NULL AND i.value IS NULL AND t.view = i.view AND t.key = i.key AND t.value = i.expected
            RETURNING i.ord)
        SELECT i.ord FROM input i JOIN ins ON ins.view = i.view AND ins.key = i.key
        UNION ALL SELECT ord FROM upd
        UNION ALL SELECT ord FROM del
        UNION ALL SELECT i.ord FROM input i
            WHERE i.expected IS NULL AND i.value IS NULL
              AND NOT EXISTS (SELECT 1 FROM freshet_online t WHERE t.view = i.view AND t.key = i.key)
        """;

    private const string ScanSql = """
        SELECT key, value FROM freshet_online
        WHERE view = $1 AND key >= $2 AND ($3::bytea IS NULL OR key < $3)
        ORDER BY key
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgresSchema _schema;
    private int _disposed;

    /// <summary>Opens the store at <paramref name="connectionString"/> (nothing is sent until first use; the table is created then).</summary>
    public PostgresOnlineStore(string connectionString)
        : this(PostgresConnection.CreateDataSource(connectionString), ownsDataSource: true)
    {
    }

    /// <summary>Opens the store over a data source the caller owns.</summary>
    public PostgresOnlineStore(NpgsqlDataSource dataSource)
        : this(dataSource, ownsDataSource: false)
    {
    }

    private PostgresOnlineStore(NpgsqlDataSource dataSource, bool ownsDataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        _schema = new PostgresSchema(dataSource, 0x46524553_48455402, Ddl);
    }

    /// <summary>Where the store is, for messages: host:port/database.</summary>
    public string Location => PostgresConnection.Describe(_dataSource);

    /// <inheritdoc />
    public bool IsShared => true;

    /// <summary>Connects and creates the table if missing, so a bad connection string fails now rather than at the first read.</summary>
    public ValueTask EnsureCreatedAsync(CancellationToken cancellationToken = default) => _schema.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    public async ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(writes);
        var n = writes.Count;
        if (n == 0)
        {
            return 0;
        }

        var views = new string[n];
        var keys = new byte[n][];
        var events = new long[n];
        var createds = new long[n];
        var values = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            var w = writes[i];
            if (w.View is null || w.EntityKey is null)
            {
                throw new ArgumentException($"write {i} has no view or no entity key", nameof(writes));
            }

            if (w.Row is null || w.Row.Length <= RowCodec.HeaderSize)
            {
                throw new ArgumentException($"write {i} (view '{w.View}') does not hold an encoded row", nameof(writes));
            }

            views[i] = w.View;
            keys[i] = w.EntityKey;
            events[i] = RowCodec.EventMicros(w.Row);
            createds[i] = RowCodec.CreatedMicros(w.Row);
            values[i] = w.Row;
        }

        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(WriteSql, connection);
        command.Parameters.Add(Texts(views));
        command.Parameters.Add(Bytes(keys));
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = events });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = createds });
        command.Parameters.Add(Bytes(values));

        // Per key that had a winner: what was stored before (null: nothing) and whether the winner was stored.
        var outcome = new Dictionary<int, (long? Event, long? Created, bool Applied)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var ord = (int)reader.GetInt64(0) - 1;
                long? ev = reader.IsDBNull(1) ? null : reader.GetInt64(1);
                long? cr = reader.IsDBNull(2) ? null : reader.GetInt64(2);
                outcome[ord] = (ev, cr, reader.GetBoolean(3));
            }
        }

        return CountReplacing(writes, views, keys, events, createds, outcome);
    }

    // The contract's count: each write is compared with the newest row so far for its key, in call order, starting
    // from what was stored. A key whose newest write was refused was stored newer than all its writes: none count.
    private static int CountReplacing(IReadOnlyList<OnlineWrite> writes, string[] views, byte[][] keys, long[] events, long[] createds, Dictionary<int, (long? Event, long? Created, bool Applied)> outcome)
    {
        var groups = new Dictionary<(string View, string Key), List<int>>();
        for (var i = 0; i < writes.Count; i++)
        {
            var id = (views[i], Convert.ToBase64String(keys[i]));
            if (!groups.TryGetValue(id, out var list))
            {
                groups[id] = list = [];
            }

            list.Add(i);
        }

        var count = 0;
        foreach (var list in groups.Values)
        {
            var winner = -1;
            foreach (var i in list)
            {
                if (outcome.ContainsKey(i))
                {
                    winner = i;
                }
            }

            if (winner < 0 || !outcome[winner].Applied)
            {
                continue;
            }

            var (ev, cr, _) = outcome[winner];
            bool has = ev is not null;
            long e = ev ?? 0, c = cr ?? 0;
            foreach (var i in list)
            {
                if (!has || events[i] > e || (events[i] == e && createds[i] >= c))
                {
                    has = true;
                    e = events[i];
                    c = createds[i];
                    count++;
                }
            }
        }

        return count;
    }

    /// <inheritdoc />
    public async ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(rows);
        var n = keys.Count;
        if (rows.Length < n)
        {
            throw new ArgumentException($"room for {rows.Length} rows, {n} keys asked for", nameof(rows));
        }

        if (n == 0)
        {
            return;
        }

        var views = new string[n];
        var entityKeys = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            views[i] = keys[i].View ?? throw new ArgumentException($"key {i} has no view", nameof(keys));
            entityKeys[i] = keys[i].EntityKey ?? throw new ArgumentException($"key {i} has no entity key", nameof(keys));
            rows[i] = null;
        }

        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(ReadSql, connection);
        command.Parameters.Add(Texts(views));
        command.Parameters.Add(Bytes(entityKeys));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows[(int)reader.GetInt64(0) - 1] = reader.GetFieldValue<byte[]>(1);
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(view);
        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM freshet_online WHERE view = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = view });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(puts);
        var n = puts.Count;
        if (n == 0)
        {
            return;
        }

        var views = new string[n];
        var keys = new byte[n][];
        var values = new byte[]?[n];
        for (var i = 0; i < n; i++)
        {
            var put = puts[i];
            if (put.Namespace is null || put.Key is null)
            {
                throw new ArgumentException($"put {i} has no namespace or no key", nameof(puts));
            }

            views[i] = put.Namespace;
            keys[i] = put.Key;
            values[i] = put.Value;
        }

        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(PutSql, connection);
        command.Parameters.Add(Texts(views));
        command.Parameters.Add(Bytes(keys));
        command.Parameters.Add(Bytes(values));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(swaps);
        ArgumentNullException.ThrowIfNull(applied);
        var n = swaps.Count;
        if (applied.Length < n)
        {
            throw new ArgumentException($"room for {applied.Length} results, {n} swaps asked for", nameof(applied));
        }

        if (n == 0)
        {
            return;
        }

        var views = new string[n];
        var keys = new byte[n][];
        var expected = new byte[]?[n];
        var values = new byte[]?[n];
        for (var i = 0; i < n; i++)
        {
            var swap = swaps[i];
            if (swap.Namespace is null || swap.Key is null)
            {
                throw new ArgumentException($"swap {i} has no namespace or no key", nameof(swaps));
            }

            views[i] = swap.Namespace;
            keys[i] = swap.Key;
            expected[i] = swap.Expected;
            values[i] = swap.Value;
            applied[i] = false;
        }

        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(SwapSql, connection);
        command.Parameters.Add(Texts(views));
        command.Parameters.Add(Bytes(keys));
        command.Parameters.Add(Bytes(expected));
        command.Parameters.Add(Bytes(values));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            applied[(int)reader.GetInt64(0) - 1] = true;
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(prefix);
        return Scan(@namespace, prefix, cancellationToken);
    }

    // One SELECT, so one snapshot: rows put while the scan runs are not seen. bytea compares byte by byte
    // (unsigned, a shorter prefix first), which is the contract's key order.
    private async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> Scan(string @namespace, byte[] prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(ScanSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = @namespace });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = prefix });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)UpperBound(prefix) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bytea });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new KeyValuePair<byte[], byte[]>(reader.GetFieldValue<byte[]>(0), reader.GetFieldValue<byte[]>(1));
        }
    }

    /// <summary>The least key above every key that starts with <paramref name="prefix"/>; null when there is none (empty or all 0xFF).</summary>
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

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static NpgsqlParameter Texts(string[] values) =>
        new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    private static NpgsqlParameter Bytes(byte[]?[] values) =>
        new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea };

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
