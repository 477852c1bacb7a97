using Freshet.Ingestion;
using Freshet.Model;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Freshet.Nats;

/// <summary>
/// Reads a NATS JetStream subject through a durable pull consumer, starting where Freshet's store says
/// (see <see cref="IEventSource"/>). A stream is totally ordered, so it is one partition named after the
/// stream, and offsets are stream sequences.
/// <para>
/// The stream is <see cref="NatsSource.Stream"/>; when null, the stream that already captures the subject,
/// else a new file-backed stream <c>freshet_{source}</c>. A stream is created when missing. The durable
/// consumer is <see cref="NatsSource.Durable"/> or <c>freshet-{source}</c>; it is recreated at start with
/// <c>deliver_policy: by_start_sequence</c> at the stored position (or <c>all</c>), because the broker's own
/// delivery state is not where Freshet resumes from. One processor owns a source's durable at a time.
/// </para>
/// <para>
/// Acks use <c>ack_policy: all</c>: <see cref="AcknowledgeAsync"/> acks the last event before the stored
/// position, which acks everything before it. Redeliveries (ack wait expired) and events before the
/// current position are dropped, so each event is returned once; after a connection or server failure
/// the consumer is recreated at the current position.
/// </para>
/// </summary>
public sealed class NatsEventSource : IEventSource
{
    private readonly NatsSource _source;
    private readonly Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> _resumeFrom;
    private readonly NatsEventSourceOptions _options;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly string _durable;
    private readonly Queue<(long Sequence, INatsJSMsg<byte[]> Message)> _unacked = new();
    private static readonly TimeSpan LongPollThreshold = TimeSpan.FromSeconds(1.5);
    private static readonly TimeSpan IdleDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan TimerGrace = TimeSpan.FromSeconds(1);
    private INatsJSConsumer? _consumer;
    private string? _stream;
    private long _next;
    private bool _started;
    private bool _disposed;

    /// <summary>Prepares the source; the connection, stream and consumer are set up by the first poll.</summary>
    /// <param name="source">The NATS source definition.</param>
    /// <param name="resumeFrom">
    /// Called once at start with the stream name; returns the next stream sequence to read (null or
    /// missing: the first retained one).
    /// </param>
    /// <param name="options">Client settings; the defaults when null.</param>
    public NatsEventSource(NatsSource source, Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> resumeFrom, NatsEventSourceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(resumeFrom);
        _source = source;
        _resumeFrom = resumeFrom;
        _options = options ?? new NatsEventSourceOptions();
        _durable = source.Durable ?? $"freshet-{source.Name}";
        _connection = new NatsConnection(NatsOpts.Default with { Url = source.Url, Name = $"freshet-{source.Name}" });
        _js = new NatsJSContext(_connection);
    }

    /// <inheritdoc />
    public string Name => _source.Name;

    /// <summary>The stream read (the only partition), once started.</summary>
    public string? Stream => _stream;

    /// <summary>The next stream sequence this source will return.</summary>
    public long NextSequence => _next;

    /// <inheritdoc />
    /// <remarks>
    /// A stream is one partition: true once the stream and consumer exist, false again while a lost consumer
    /// waits to be recreated.
    /// </remarks>
    public bool HoldsAllPartitions => _consumer is not null;

    /// <inheritdoc />
    /// <remarks>Raised with the stream's name when the source is disposed.</remarks>
    public event Action<IReadOnlyList<string>>? PartitionsRevoked;

    /// <summary>The stream name derived for a source that names none and whose subject no stream captures.</summary>
    public static string DerivedStreamName(string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        var chars = sourceName.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            // Stream names may not hold '.', '*', '>', path separators or whitespace.
            if (!char.IsAsciiLetterOrDigit(chars[i]) && chars[i] is not '_' and not '-')
            {
                chars[i] = '_';
            }
        }

        return "freshet_" + new string(chars);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A connection or server failure is not thrown: the poll returns what it has (possibly nothing) and
    /// the next poll recreates the consumer at the current position, so a processor just keeps polling.
    /// A request the server rejects as bad (JetStream API code 400, e.g. a named stream that does not
    /// capture the subject) is a configuration error and is thrown as <see cref="NatsJSApiException"/>.
    /// </remarks>
    public async ValueTask<IReadOnlyList<SourceEvent>> PollAsync(int maxEvents, TimeSpan maxWait, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var batch = new List<SourceEvent>();
        var deadline = DateTime.UtcNow + maxWait;

        // While the server is away the client queues requests until it reconnects; the poll must still
        // return within its wait, so the whole call runs under a timer.
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timer.CancelAfter(maxWait + TimerGrace);
        var token = timer.Token;
        try
        {
            if (!_started)
            {
                await StartAsync(token);
            }

            _consumer ??= await CreateConsumerAsync(token);

            while (true)
            {
                var left = deadline - DateTime.UtcNow;

                // The client wants a fetch expiry above 1 s: shorter waits are no-wait fetches a little apart.
                // A long poll asks for ONE message, so it ends as soon as the first event arrives (a pull for
                // N would wait for N or the expiry); the rest of the batch is then taken without waiting.
                var wait = batch.Count == 0 && left >= LongPollThreshold;
                var opts = wait ? new NatsJSFetchOpts { MaxMsgs = 1, Expires = left } : new NatsJSFetchOpts { MaxMsgs = maxEvents - batch.Count };
                var messages = wait
                    ? _consumer.FetchAsync(opts, NatsRawSerializer<byte[]>.Default, token)
                    : _consumer.FetchNoWaitAsync(opts, NatsRawSerializer<byte[]>.Default, token);
                await foreach (var msg in messages)
                {
                    Accept(msg, batch);
                }

                left = deadline - DateTime.UtcNow;
                if (wait && batch.Count > 0 && batch.Count < maxEvents)
                {
                    // The first event came: take what else is already there.
                    continue;
                }

                if (batch.Count > 0 || left <= TimeSpan.Zero)
                {
                    break;
                }

                if (!wait)
                {
                    await Task.Delay(left < IdleDelay ? left : IdleDelay, token);
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The timer fired: the server did not answer in time.
            _consumer = null;
            LastError = new TimeoutException($"NATS did not answer within {maxWait + TimerGrace}");
        }
        catch (OperationCanceledException)
        {
            // Events the client received but did not hand out would be skipped by ack_policy all:
            // start again from our position.
            _consumer = null;
            throw;
        }
        catch (Exception e) when (e is NatsException or TimeoutException && e is not NatsJSApiException { Error.Code: 400 } && !ct.IsCancellationRequested)
        {
            // A 400 (a stream that does not capture the subject, a bad name) is a configuration error and
            // is thrown; anything else is the server being away or restarting.
            // The server went away or the consumer is gone: rebuild it at our position on the next poll.
            _consumer = null;
            _unacked.Clear();
            LastError = e;
        }

        if (_consumer is null && batch.Count == 0 && deadline - DateTime.UtcNow is { Ticks: > 0 } rest)
        {
            // Failing fast against a server that is down must not turn a processor's loop into a spin.
            await Task.Delay(rest, ct);
        }

        return batch;
    }

    private void Accept(INatsJSMsg<byte[]> msg, List<SourceEvent> batch)
    {
        if (msg.Metadata is not { } meta)
        {
            return;
        }

        var sequence = (long)meta.Sequence.Stream;
        if (sequence < _next)
        {
            // A redelivery after the ack wait, or a leftover of an earlier consumer: already returned.
            return;
        }

        _next = sequence + 1;
        _unacked.Enqueue((sequence, msg));
        batch.Add(new SourceEvent(_stream!, sequence, null, msg.Data ?? [], meta.Timestamp));
    }

    /// <summary>The last connection or server error a poll absorbed, if any.</summary>
    public Exception? LastError { get; private set; }

    /// <inheritdoc />
    public async ValueTask AcknowledgeAsync(IReadOnlyDictionary<string, long> nextOffsets, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(nextOffsets);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_stream is null || !nextOffsets.TryGetValue(_stream, out var next))
        {
            return;
        }

        INatsJSMsg<byte[]>? last = null;
        while (_unacked.Count > 0 && _unacked.Peek().Sequence < next)
        {
            last = _unacked.Dequeue().Message;
        }

        if (last is { } msg)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timer.CancelAfter(_options.AckTimeout);
            try
            {
                // ack_policy all: this acks every earlier event of the consumer too.
                await msg.AckAsync(cancellationToken: timer.Token);
            }
            catch (Exception e) when (e is NatsException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                // Advisory: resumption reads Freshet's store, so a lost ack only delays monitoring.
                LastError = e;
            }
        }
    }

    /// <summary>Raises <see cref="PartitionsRevoked"/> for the stream and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_stream is { } stream)
        {
            PartitionsRevoked?.Invoke([stream]);
        }

        await _connection.DisposeAsync();
    }

    private async ValueTask StartAsync(CancellationToken ct)
    {
        _stream = await EnsureStreamAsync(ct);
        var positions = _resumeFrom([_stream]);
        _next = positions.TryGetValue(_stream, out var next) && next is { } n ? n : 0;
        _started = true;
    }

    private async ValueTask<string> EnsureStreamAsync(CancellationToken ct)
    {
        var name = _source.Stream;
        if (name is null)
        {
            await foreach (var existing in _js.ListStreamNamesAsync(subject: _source.Subject, cancellationToken: ct))
            {
                return existing;
            }

            name = DerivedStreamName(_source.Name);
        }

        try
        {
            await _js.GetStreamAsync(name, cancellationToken: ct);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            var config = new StreamConfig(name, [_source.Subject]) { Storage = _options.Storage };
            await _js.CreateStreamAsync(config, ct);
        }

        return name;
    }

    private async ValueTask<INatsJSConsumer> CreateConsumerAsync(CancellationToken ct)
    {
        // A durable's start position cannot be changed in place, and its server-side position is not
        // ours: delete it and create it again at the position Freshet holds.
        try
        {
            await _js.DeleteConsumerAsync(_stream!, _durable, ct);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
        }

        var config = new ConsumerConfig(_durable)
        {
            AckPolicy = ConsumerConfigAckPolicy.All,
            AckWait = _options.AckWait,
            MaxAckPending = _options.MaxAckPending,
            FilterSubject = _source.Subject,
        };
        if (_next > 0)
        {
            config.DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence;
            config.OptStartSeq = (ulong)_next;
        }
        else
        {
            config.DeliverPolicy = ConsumerConfigDeliverPolicy.All;
        }

        _unacked.Clear();
        return await _js.CreateOrUpdateConsumerAsync(_stream!, config, ct);
    }
}

/// <summary>Client settings of a <see cref="NatsEventSource"/> beyond the source definition.</summary>
public sealed record NatsEventSourceOptions
{
    /// <summary>Storage of a stream Freshet creates (default: file, so it survives a server restart).</summary>
    public StreamConfigStorage Storage { get; init; } = StreamConfigStorage.File;

    /// <summary>How long the server waits for an ack before redelivering (redeliveries are dropped by the source).</summary>
    public TimeSpan AckWait { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an advisory ack may wait for a connection before it is given up.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many events may be outstanding without an ack before the server pauses delivery.</summary>
    public long MaxAckPending { get; init; } = 100_000;
}
