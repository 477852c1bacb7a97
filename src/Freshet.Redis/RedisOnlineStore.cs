using Freshet.Online;
using StackExchange.Redis;

namespace Freshet.Redis;

/// <summary>
/// The online store on Redis, Redis Cluster or Garnet, shared by every process that connects to it (docs/online-store.md,
/// "Redis"). One string key per row (<see cref="RedisKeys"/>); the value is the row as <see cref="RowCodec"/> encodes it,
/// or the state row as it was put.
/// </summary>
/// <remarks>
/// <para>
/// Newest-wins is decided on the server by a Lua script that compares the stored row's timestamps with the new row's
/// (<see cref="RedisScripts.Write"/>), so writers in several processes cannot lose a newer row. A call's scripts,
/// reads and swaps are sent pipelined: one round trip per call (per node in a cluster, all nodes at once).
/// </para>
/// <para>
/// Durability is the server's: a call returns once Redis acknowledged every command, which with AOF and
/// <c>appendfsync always</c> means written and fsynced; with <c>everysec</c> up to a second of writes may be lost by
/// a server crash.
/// </para>
/// <para>
/// Thread safety: every method may be called concurrently. <see cref="DisposeAsync"/> closes the connection when the
/// store opened it (<see cref="Connect"/>), not one handed to <see cref="Open"/>.
/// </para>
/// </remarks>
public sealed partial class RedisOnlineStore : IOnlineStore
{
    /// <summary>How often a lost connection is retried (and the heartbeat that drives it) when <see cref="Connect"/> opened it.</summary>
    public static readonly TimeSpan ReconnectInterval = TimeSpan.FromMilliseconds(100);

    private readonly IConnectionMultiplexer _connection;
    private readonly bool _ownsConnection;
    private readonly IDatabase _db;
    private readonly RedisKeys _keys;
    private readonly RedisOnlineStoreOptions _options;
    private readonly string _endpoints;
    private int _disposed;

    private RedisOnlineStore(IConnectionMultiplexer connection, bool ownsConnection, bool cluster, RedisOnlineStoreOptions options)
    {
        _connection = connection;
        _ownsConnection = ownsConnection;
        _db = connection.GetDatabase();
        _keys = new RedisKeys(options.KeyPrefix);
        _options = options;
        _endpoints = string.Join(",", connection.GetEndPoints().Select(e => e.ToString()));
        IsCluster = cluster;
    }

    /// <summary>True when the server is a Redis Cluster (keys are grouped by hash slot).</summary>
    public bool IsCluster { get; }

    /// <summary>
    /// True when <see cref="PutAsync"/> is all or none: on a single node or Garnet. On a cluster a put batch spans
    /// hash slots, each slot's part is atomic on its own, and a failure can leave some parts applied; stream
    /// processors on a shared store use <see cref="SwapAsync"/> instead.
    /// </summary>
    public bool AtomicPuts => !IsCluster;

    /// <inheritdoc />
    public bool IsShared => true;

    /// <summary>The connection the store uses (for tests and hosts that count or inspect commands).</summary>
    public IConnectionMultiplexer Connection => _connection;

    /// <summary>
    /// Connects to Redis (<c>host:port</c>, or StackExchange.Redis's connection string syntax), detects a cluster and
    /// loads the scripts. An unreachable server or one that refuses scripts gives a <see cref="RedisUnavailableException"/>
    /// naming the endpoints and what failed.
    /// </summary>
    public static RedisOnlineStore Connect(string connectionString, RedisOnlineStoreOptions? options = null)
    {
        // Fails fast while Redis is down and reconnects every ReconnectInterval (RedisConnections.Connect), so calls
        // succeed again within about 100 ms of Redis accepting connections (docs/online-store.md, "Failure behaviour").
        var connection = RedisConnections.Connect(connectionString, ReconnectInterval);
        try
        {
            return OpenCore(connection, options, ownsConnection: true);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>A store over a connection the caller owns and disposes (after the store).</summary>
    public static RedisOnlineStore Open(IConnectionMultiplexer connection, RedisOnlineStoreOptions? options = null) =>
        OpenCore(connection, options, ownsConnection: false);

    private static RedisOnlineStore OpenCore(IConnectionMultiplexer connection, RedisOnlineStoreOptions? options, bool ownsConnection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new RedisOnlineStoreOptions();
        ArgumentNullException.ThrowIfNull(options.KeyPrefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.RowsPerScript, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ScanPageSize, 1);
        var servers = connection.GetServers();
        var cluster = servers.Any(s => s.ServerType == ServerType.Cluster);
        foreach (var server in servers.Where(s => s.IsConnected && !s.IsReplica))
        {
            // Loaded once per node, so StackExchange.Redis sends EVALSHA (the hash) instead of the script text.
            foreach (var script in (string[])[RedisScripts.Write, RedisScripts.Put, RedisScripts.Swap])
            {
                try
                {
                    server.ScriptLoad(script);
                }
                catch (RedisServerException e)
                {
                    throw new RedisUnavailableException($"Redis at {server.EndPoint} refuses Lua scripts ({e.Message}); Freshet needs EVAL (Garnet: start it with --lua)", e);
                }
            }
        }

        return new RedisOnlineStore(connection, ownsConnection, cluster, options);
    }

    /// <inheritdoc />
    public async ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var n = writes.Count;
        if (n == 0)
        {
            return 0;
        }

        var keys = new RedisKey[n];
        for (var i = 0; i < n; i++)
        {
            var w = writes[i];

            // A malformed row stored once would make every later comparison on its key meaningless.
            if (w.View is null || w.EntityKey is null || w.Row is null || w.Row.Length <= RowCodec.HeaderSize || w.Row[0] != RowCodec.Format)
            {
                throw new ArgumentException($"write {i} (view '{w.View}') does not hold an encoded row", nameof(writes));
            }

            keys[i] = _keys.Key(w.View, w.EntityKey);
        }

        // One script call per chunk of a slot's keys, all sent before any answer is awaited. A key written twice
        // lands in one slot group in call order, and a connection runs its commands in the order sent.
        var calls = new List<Task<RedisResult>>();
        foreach (var group in SlotGroups(keys))
        {
            for (var start = 0; start < group.Count; start += _options.RowsPerScript)
            {
                var count = Math.Min(_options.RowsPerScript, group.Count - start);
                var chunkKeys = new RedisKey[count];
                var chunkRows = new RedisValue[count];
                for (var j = 0; j < count; j++)
                {
                    var index = group[start + j];
                    chunkKeys[j] = keys[index];
                    chunkRows[j] = writes[index].Row;
                }

                calls.Add(_db.ScriptEvaluateAsync(RedisScripts.Write, chunkKeys, chunkRows));
            }
        }

        RedisResult[] results;
        try
        {
            results = await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch (Exception e) when (IsOutage(e))
        {
            throw Unavailable(e);
        }

        var stored = 0;
        foreach (var result in results)
        {
            stored += (int)result;
        }

        return stored;
    }

    /// <inheritdoc />
    public async ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
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
            return;
        }

        var redisKeys = new RedisKey[n];
        for (var i = 0; i < n; i++)
        {
            redisKeys[i] = _keys.Key(keys[i].View, keys[i].EntityKey);
        }

        try
        {
            await GetAsync(redisKeys, rows).ConfigureAwait(false);
        }
        catch (Exception e) when (IsOutage(e))
        {
            throw Unavailable(e);
        }
    }

    /// <summary>Answers every key into <paramref name="values"/>: one MGET on a single node, one per slot (pipelined) on a cluster.</summary>
    private async Task GetAsync(RedisKey[] keys, byte[]?[] values)
    {
        if (!IsCluster)
        {
            var found = await _db.StringGetAsync(keys).ConfigureAwait(false);
            for (var i = 0; i < keys.Length; i++)
            {
                values[i] = (byte[]?)found[i];
            }

            return;
        }

        var groups = SlotGroups(keys);
        var calls = new Task<RedisValue[]>[groups.Count];
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            var groupKeys = new RedisKey[group.Count];
            for (var j = 0; j < group.Count; j++)
            {
                groupKeys[j] = keys[group[j]];
            }

            calls[g] = _db.StringGetAsync(groupKeys);
        }

        for (var g = 0; g < groups.Count; g++)
        {
            var found = await calls[g].ConfigureAwait(false);
            var group = groups[g];
            for (var j = 0; j < group.Count; j++)
            {
                values[group[j]] = (byte[]?)found[j];
            }
        }
    }

    /// <summary>
    /// The indexes of <paramref name="keys"/> grouped by hash slot, in call order within each group; a single group
    /// of every index when the server is not a cluster.
    /// </summary>
    private List<List<int>> SlotGroups(RedisKey[] keys)
    {
        if (!IsCluster)
        {
            var all = new List<int>(keys.Length);
            for (var i = 0; i < keys.Length; i++)
            {
                all.Add(i);
            }

            return [all];
        }

        var bySlot = new Dictionary<int, List<int>>();
        var groups = new List<List<int>>();
        for (var i = 0; i < keys.Length; i++)
        {
            var slot = _connection.HashSlot(keys[i]);
            if (!bySlot.TryGetValue(slot, out var group))
            {
                group = [];
                bySlot.Add(slot, group);
                groups.Add(group);
            }

            group.Add(i);
        }

        return groups;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _ownsConnection)
        {
            await _connection.CloseAsync().ConfigureAwait(false);
            _connection.Dispose();
        }
    }

    private static bool IsOutage(Exception e) => RedisConnections.IsOutage(e);

    private RedisUnavailableException Unavailable(Exception e) => RedisConnections.Unavailable($"the online store (Redis at {_endpoints})", e);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}

/// <summary>
/// Redis cannot be used: unreachable, refusing the connection, still loading its data after a restart, or refusing
/// scripts. The message names the endpoint.
/// </summary>
public sealed class RedisUnavailableException(string message, Exception? inner = null) : OnlineStoreUnavailableException(message, inner);
