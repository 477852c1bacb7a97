using Freshet.Conformance.Tests;
using Freshet.Online;
using Freshet.Postgres;
using Freshet.Postgres.Tests;
using Freshet.Redis;

namespace Freshet.Kafka.Tests;

/// <summary>The hand-over on one real redis-server: each processor connects its own client.</summary>
public sealed class RedisPartitionHandOverTests(RedisSingleFixture redis) : PartitionHandOverTests, IClassFixture<RedisSingleFixture>
{
    protected override Task<IOnlineStore> OpenStoreAsync() =>
        Task.Run<IOnlineStore>(() => RedisOnlineStore.Connect(redis.ConnectionString));
}

/// <summary>The hand-over on a three-master Redis Cluster: rows of one batch land on different nodes, so no batch is atomic.</summary>
public sealed class RedisClusterPartitionHandOverTests(RedisClusterFixture cluster) : PartitionHandOverTests, IClassFixture<RedisClusterFixture>
{
    protected override Task<IOnlineStore> OpenStoreAsync() =>
        Task.Run<IOnlineStore>(() => RedisOnlineStore.Connect(cluster.ConnectionString));
}

/// <summary>The hand-over on a real PostgreSQL server, one database for the test, one connection pool per processor.</summary>
public sealed class PostgresPartitionHandOverTests(PostgresServer server) : PartitionHandOverTests, IClassFixture<PostgresServer>
{
    private string? _database;

    protected override async Task<IOnlineStore> OpenStoreAsync()
    {
        _database ??= server.CreateDatabase();
        var store = new PostgresOnlineStore(_database);
        await store.EnsureCreatedAsync();
        return store;
    }
}
