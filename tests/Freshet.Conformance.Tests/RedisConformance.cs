using Freshet.Online;
using Freshet.Redis;
using StackExchange.Redis;

namespace Freshet.Conformance.Tests;

/// <summary>A store over a shared connection with a key prefix of its own, so tests sharing one server never see each other's rows.</summary>
internal static class RedisStores
{
    public static RedisOnlineStore Fresh(IConnectionMultiplexer connection, int rowsPerScript = RedisOnlineStoreOptions.DefaultRowsPerScript) =>
        RedisOnlineStore.Open(connection, new RedisOnlineStoreOptions { KeyPrefix = "t" + Guid.NewGuid().ToString("N")[..12] + ":", RowsPerScript = rowsPerScript });
}

/// <summary>The online store contract on one redis-server.</summary>
[Collection("redis-single")]
public sealed class RedisOnlineStoreConformance(RedisSingleFixture redis) : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => RedisStores.Fresh(redis.Connection);
}

/// <summary>The online store contract on a three-master Redis Cluster.</summary>
[Collection("redis-cluster")]
public sealed class RedisClusterOnlineStoreConformance(RedisClusterFixture cluster) : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => RedisStores.Fresh(cluster.Connection);
}

/// <summary>The online store contract on embedded Garnet.</summary>
[Collection("garnet")]
public sealed class GarnetOnlineStoreConformance(GarnetFixture garnet) : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => RedisStores.Fresh(garnet.Connection);
}

/// <summary>Dead letters over one redis-server.</summary>
[Collection("redis-single")]
public sealed class RedisDeadLetterStoreConformance(RedisSingleFixture redis) : DeadLetterStoreConformance
{
    protected override IOnlineStore CreateStore() => RedisStores.Fresh(redis.Connection);
}

/// <summary>Dead letters over a three-master Redis Cluster.</summary>
[Collection("redis-cluster")]
public sealed class RedisClusterDeadLetterStoreConformance(RedisClusterFixture cluster) : DeadLetterStoreConformance
{
    protected override IOnlineStore CreateStore() => RedisStores.Fresh(cluster.Connection);
}

/// <summary>Dead letters over embedded Garnet.</summary>
[Collection("garnet")]
public sealed class GarnetDeadLetterStoreConformance(GarnetFixture garnet) : DeadLetterStoreConformance
{
    protected override IOnlineStore CreateStore() => RedisStores.Fresh(garnet.Connection);
}
