using Freshet.Online;
using StackExchange.Redis;

namespace Freshet.Redis;

/// <summary>
/// Cache invalidations over Redis pub/sub (docs/caching.md): one channel per project,
/// <c>freshet:{project}:invalidate</c>; one message per write, holding the keys it touched
/// (<see cref="InvalidationMessage"/>). Messages are delivered one at a time, in order. Redis pub/sub is
/// fire and forget: a subscriber that is disconnected misses messages, so when the subscription connection is
/// restored the subscriber is told to drop everything. A message that does not decode also drops everything.
/// </summary>
public sealed class RedisInvalidationChannel : IInvalidationChannel
{
    private readonly IConnectionMultiplexer _connection;
    private readonly bool _ownsConnection;
    private readonly RedisChannel _channel;
    private readonly Guid _origin = Guid.NewGuid();
    private ChannelMessageQueue? _queue;
    private Action<Invalidation>? _onInvalidation;
    private long _received;
    private long _undecodable;

    /// <summary>Uses <paramref name="connection"/> (disposed with the channel when <paramref name="ownsConnection"/>).</summary>
    public RedisInvalidationChannel(IConnectionMultiplexer connection, string project, bool ownsConnection = false)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(project);
        _connection = connection;
        _ownsConnection = ownsConnection;
        _channel = RedisChannel.Literal(ChannelName(project));
    }

    /// <summary>
    /// Connects to the Redis server(s) of <paramref name="connectionString"/> (StackExchange.Redis syntax) with the
    /// online store's failure settings: an unreachable server is a <see cref="RedisUnavailableException"/> at once,
    /// publishes fail fast while Redis is down, and the connection is retried every
    /// <see cref="RedisOnlineStore.ReconnectInterval"/>.
    /// </summary>
    public static RedisInvalidationChannel Connect(string connectionString, string project) =>
        new(RedisConnections.Connect(connectionString, RedisOnlineStore.ReconnectInterval), project, ownsConnection: true);

    /// <summary>The pub/sub channel of a project's invalidations.</summary>
    public static string ChannelName(string project) => $"freshet:{project}:invalidate";

    /// <summary>Messages received from other publishers (own messages are skipped and not counted).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Messages that did not decode (each dropped everything).</summary>
    public long Undecodable => Interlocked.Read(ref _undecodable);

    /// <inheritdoc />
    public async ValueTask PublishAsync(Invalidation invalidation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invalidation);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await _connection.GetSubscriber().PublishAsync(_channel, InvalidationMessage.Encode(_origin, invalidation));
        }
        catch (Exception e) when (RedisConnections.IsOutage(e))
        {
            // The write before it was applied; the caller answers "unavailable" (HTTP 503) as for a write that lost
            // Redis midway. Other servers whose subscription dropped too are told to drop everything on reconnect.
            throw RedisConnections.Unavailable($"the cache invalidation channel (Redis at {string.Join(",", _connection.GetEndPoints().Select(p => p.ToString()))})", e);
        }
    }

    /// <inheritdoc />
    public void Subscribe(Action<Invalidation> onInvalidation)
    {
        ArgumentNullException.ThrowIfNull(onInvalidation);
        if (Interlocked.CompareExchange(ref _onInvalidation, onInvalidation, null) is not null)
        {
            throw new InvalidOperationException("the channel already has a subscriber");
        }

        _connection.ConnectionRestored += OnConnectionRestored;
        _queue = _connection.GetSubscriber().Subscribe(_channel);
        _queue.OnMessage(OnMessage);
    }

    private void OnMessage(ChannelMessage message)
    {
        var handler = _onInvalidation;
        if (handler is null)
        {
            return;
        }

        var bytes = (byte[]?)message.Message;
        if (!InvalidationMessage.TryDecode(bytes, out var origin, out var invalidation, out _))
        {
            // Whatever it named is unknown: dropping everything is the safe reading.
            Interlocked.Increment(ref _undecodable);
            handler(Invalidation.Everything);
            return;
        }

        if (origin == _origin)
        {
            return;
        }

        Interlocked.Increment(ref _received);
        handler(invalidation);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        // Messages published while the subscription was down are lost.
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            _onInvalidation?.Invoke(Invalidation.Everything);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _connection.ConnectionRestored -= OnConnectionRestored;
        _onInvalidation = null;
        if (_queue is not null)
        {
            await _queue.UnsubscribeAsync();
        }

        if (_ownsConnection)
        {
            await _connection.DisposeAsync();
        }
    }
}
