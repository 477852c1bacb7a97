using StackExchange.Redis;

namespace Freshet.Redis;

/// <summary>
/// How Freshet connects to Redis and tells an outage from a bug, shared by the online store and the cache
/// invalidation channel (docs/online-store.md, "Failure behaviour").
/// </summary>
internal static class RedisConnections
{
    /// <summary>
    /// Connects with Freshet's failure settings. At start-up an unreachable server is an error at once
    /// (AbortOnConnectFail); later, while Redis is down, every call fails fast rather than queueing behind the outage
    /// (BacklogPolicy.FailFast: the caller answers "unavailable" at once and a write is never applied after it was
    /// refused), and the connection is retried every heartbeat (a fixed <paramref name="reconnectInterval"/>, not the
    /// default back-off that grows to 10 s), so calls succeed again soon after Redis accepts connections. A bad
    /// connection string or an unreachable server gives a <see cref="RedisUnavailableException"/> naming it.
    /// </summary>
    public static ConnectionMultiplexer Connect(string connectionString, TimeSpan reconnectInterval)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ConfigurationOptions config;
        try
        {
            config = ConfigurationOptions.Parse(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new RedisUnavailableException($"the Redis connection string '{connectionString}' is not valid: {e.Message}", e);
        }

        config.AbortOnConnectFail = true;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.HeartbeatInterval = reconnectInterval;
        config.ReconnectRetryPolicy = new LinearRetry((int)reconnectInterval.TotalMilliseconds);
        try
        {
            return ConnectionMultiplexer.Connect(config);
        }
        catch (RedisConnectionException e)
        {
            var endpoints = string.Join(",", config.EndPoints.Select(p => p.ToString()));
            throw new RedisUnavailableException($"cannot connect to Redis at {endpoints}: {Describe(e.FailureType)}", e);
        }
    }

    /// <summary>
    /// True for the failures of a server that is down or restarting: no connection (FailFast refuses at once), a
    /// connection lost with the command in flight, no answer in time, or <c>LOADING</c> while a restarted server reads
    /// its append-only file.
    /// </summary>
    public static bool IsOutage(Exception e) => e is RedisConnectionException or RedisTimeoutException
        || (e is RedisServerException && e.Message.StartsWith("LOADING", StringComparison.Ordinal));

    /// <summary>
    /// An outage (<see cref="IsOutage"/>) as a short message naming <paramref name="what"/> (for example
    /// "the online store (Redis at host:port)"), the client library's detail as the inner exception.
    /// </summary>
    public static RedisUnavailableException Unavailable(string what, Exception e) => new(e switch
    {
        RedisConnectionException c => $"{what} is unavailable: {Describe(c.FailureType)}",
        RedisTimeoutException => $"{what} did not answer in time",
        _ => $"{what} is loading its data after a restart",
    }, e);

    private static string Describe(ConnectionFailureType failure) => failure switch
    {
        ConnectionFailureType.UnableToResolvePhysicalConnection or ConnectionFailureType.UnableToConnect or ConnectionFailureType.SocketFailure =>
            "the connection was refused or timed out (is redis-server running there?)",
        ConnectionFailureType.AuthenticationFailure => "authentication failed (check the password in the connection string)",
        _ => $"connection failed ({failure})",
    };
}
