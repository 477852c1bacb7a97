using System.Globalization;
using Confluent.Kafka;
using Freshet.Ingestion;
using Freshet.Model;

namespace Freshet.Kafka;

/// <summary>
/// Reads a Kafka topic as a member of a consumer group, starting each assigned partition where
/// Freshet's store says (see <see cref="IEventSource"/>). Partitions are named <c>{topic}/{number}</c>.
/// <para>
/// The group is <see cref="KafkaSource.ConsumerGroup"/> or <c>freshet-{source}</c>. Auto-commit and
/// the auto offset store are off: broker offsets change only through <see cref="AcknowledgeAsync"/>
/// and are never used to decide where to resume. The default group protocol is the KIP-848
/// <c>consumer</c> protocol (incremental assignment, fast rebalances); <see cref="KafkaEventSourceOptions.Settings"/>
/// can switch to <c>classic</c>.
/// </para>
/// </summary>
public sealed class KafkaEventSource : IEventSource
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> _resumeFrom;
    private readonly string _topic;
    private readonly HashSet<string> _assigned = new(StringComparer.Ordinal);
    private IAdminClient? _admin;
    private int _topicPartitions;

    // Partition names of the topic, built once rather than per event.
    private readonly Dictionary<int, string> _names = [];
    private List<SourceEvent>? _batch;
    private bool _closed;

    /// <summary>Builds the consumer and subscribes to the source's topic.</summary>
    /// <param name="source">The Kafka source definition.</param>
    /// <param name="resumeFrom">
    /// Called with the newly assigned partitions; returns the next offset of each (null or missing: the
    /// earliest retained offset).
    /// </param>
    /// <param name="options">Extra client settings; the defaults when null.</param>
    public KafkaEventSource(KafkaSource source, Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> resumeFrom, KafkaEventSourceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(resumeFrom);
        Name = source.Name;
        _topic = source.Topic;
        _resumeFrom = resumeFrom;
        options ??= new KafkaEventSourceOptions();
        var config = new ConsumerConfig
        {
            BootstrapServers = source.BootstrapServers,
            GroupId = source.ConsumerGroup ?? $"freshet-{source.Name}",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            GroupProtocol = GroupProtocol.Consumer,
            EnablePartitionEof = false,
        };
        foreach (var (key, value) in options.Settings)
        {
            config.Set(key, value);
        }

        var builder = new ConsumerBuilder<byte[], byte[]>(config)
            .SetPartitionsAssignedHandler(OnAssigned)
            .SetPartitionsRevokedHandler(OnRevoked)
            .SetPartitionsLostHandler(OnRevoked);
        if (options.LogHandler is { } log)
        {
            builder.SetLogHandler((_, m) => log(m.Message));
        }

        _consumer = builder.Build();
        _consumer.Subscribe(_topic);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public event Action<IReadOnlyList<string>>? PartitionsRevoked;

    /// <summary>The partitions currently assigned to this member.</summary>
    public IReadOnlyCollection<string> AssignedPartitions => _assigned;

    /// <inheritdoc />
    /// <remarks>
    /// Compares the assignment with the topic's partition count from the cluster's metadata (asked again
    /// whenever the assignment outgrows the count known, so added partitions are seen).
    /// </remarks>
    public bool HoldsAllPartitions
    {
        get
        {
            if (_assigned.Count == 0)
            {
                return false;
            }

            if (_assigned.Count >= _topicPartitions)
            {
                _topicPartitions = TopicPartitionCount();
            }

            return _topicPartitions > 0 && _assigned.Count >= _topicPartitions;
        }
    }

    /// <summary>The last error of an advisory commit, if any; cleared by a successful one.</summary>
    public Exception? LastAcknowledgeError { get; private set; }

    /// <summary>The partition name Freshet uses for a Kafka topic partition.</summary>
    public static string PartitionName(string topic, int partition) => $"{topic}/{partition.ToString(CultureInfo.InvariantCulture)}";

    /// <inheritdoc />
    /// <remarks>
    /// librdkafka's poll blocks (up to <paramref name="maxWait"/>), so it runs on a thread of its own, not a pool
    /// thread: several processors in one process (or a server that also ingests) each blocking a pool thread for
    /// seconds starve the pool, and the store's async replies (StackExchange.Redis, Npgsql) then wait behind
    /// them. The assignment and revocation callbacks run inside that poll, hence while this call is in progress.
    /// </remarks>
    public async ValueTask<IReadOnlyList<SourceEvent>> PollAsync(int maxEvents, TimeSpan maxWait, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        ObjectDisposedException.ThrowIf(_closed, this);
        return await Task.Factory.StartNew(() => Poll(maxEvents, maxWait, ct), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private List<SourceEvent> Poll(int maxEvents, TimeSpan maxWait, CancellationToken ct)
    {
        var batch = new List<SourceEvent>(Math.Min(maxEvents, 1024));
        _batch = batch;
        try
        {
            var deadline = DateTime.UtcNow + maxWait;
            while (batch.Count < maxEvents)
            {
                ct.ThrowIfCancellationRequested();
                var left = deadline - DateTime.UtcNow;

                // Slices of at most 100 ms keep cancellation responsive; once something arrived, only
                // what is already buffered is taken.
                var wait = batch.Count > 0 || left <= TimeSpan.Zero ? TimeSpan.Zero : (left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
                var result = _consumer.Consume(wait);
                if (result is null || result.IsPartitionEOF)
                {
                    if (batch.Count > 0 || left <= TimeSpan.Zero)
                    {
                        break;
                    }

                    continue;
                }

                var message = result.Message;
                DateTimeOffset? time = message.Timestamp.Type == TimestampType.NotAvailable ? null : message.Timestamp.UtcDateTime;
                batch.Add(new SourceEvent(NameOf(result.Topic, result.Partition.Value), result.Offset.Value, message.Key, message.Value ?? [], time));
            }

            return batch;
        }
        finally
        {
            _batch = null;
        }
    }

    /// <inheritdoc />
    /// <remarks>Commits only partitions this member still owns; a failure is kept in <see cref="LastAcknowledgeError"/>.</remarks>
    public ValueTask AcknowledgeAsync(IReadOnlyDictionary<string, long> nextOffsets, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(nextOffsets);
        ObjectDisposedException.ThrowIf(_closed, this);
        var offsets = new List<TopicPartitionOffset>(nextOffsets.Count);
        foreach (var (partition, next) in nextOffsets)
        {
            if (_assigned.Contains(partition) && TryParsePartition(partition, out var tp))
            {
                offsets.Add(new TopicPartitionOffset(tp, new Offset(next)));
            }
        }

        if (offsets.Count > 0)
        {
            try
            {
                _consumer.Commit(offsets);
                LastAcknowledgeError = null;
            }
            catch (KafkaException e)
            {
                // Advisory: resumption reads Freshet's store, so a failed commit only delays monitoring.
                LastAcknowledgeError = e;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Leaves the group (raising <see cref="PartitionsRevoked"/> for the owned partitions) and frees the client.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_closed)
        {
            _closed = true;

            // The admin client borrows the consumer's handle: it goes first.
            _admin?.Dispose();
            try
            {
                _consumer.Close();
            }
            catch (KafkaException)
            {
                // Closing an unreachable cluster: nothing left to hand over.
            }

            _consumer.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The topic's partition count, or 0 when the cluster does not say within a short wait.</summary>
    private int TopicPartitionCount()
    {
        try
        {
            _admin ??= new DependentAdminClientBuilder(_consumer.Handle).Build();
            foreach (var topic in _admin.GetMetadata(_topic, TimeSpan.FromSeconds(2)).Topics)
            {
                if (topic.Topic == _topic && !topic.Error.IsError)
                {
                    return topic.Partitions.Count;
                }
            }
        }
        catch (KafkaException)
        {
            // Unknown for now: the next check asks again.
        }

        return 0;
    }

    private IEnumerable<TopicPartitionOffset> OnAssigned(IConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions)
    {
        var names = new string[partitions.Count];
        for (var i = 0; i < partitions.Count; i++)
        {
            names[i] = NameOf(partitions[i].Topic, partitions[i].Partition.Value);
        }

        var positions = _resumeFrom(names);
        var result = new List<TopicPartitionOffset>(partitions.Count);
        for (var i = 0; i < partitions.Count; i++)
        {
            var offset = positions.TryGetValue(names[i], out var next) && next is { } n ? new Offset(n) : Offset.Beginning;
            result.Add(new TopicPartitionOffset(partitions[i], offset));
            _assigned.Add(names[i]);
        }

        return result;
    }

    private void OnRevoked(IConsumer<byte[], byte[]> consumer, List<TopicPartitionOffset> partitions)
    {
        var names = new string[partitions.Count];
        for (var i = 0; i < partitions.Count; i++)
        {
            names[i] = PartitionName(partitions[i].Topic, partitions[i].Partition.Value);
            _assigned.Remove(names[i]);
        }

        // Events of these partitions gathered by the poll in progress are not handed out: the next
        // owner reads them again from the stored offsets, and handing them out too would apply them twice.
        _batch?.RemoveAll(e => Array.IndexOf(names, e.Partition) >= 0);
        PartitionsRevoked?.Invoke(names);
    }

    private string NameOf(string topic, int partition)
    {
        if (topic != _topic)
        {
            return PartitionName(topic, partition);
        }

        if (!_names.TryGetValue(partition, out var name))
        {
            name = PartitionName(topic, partition);
            _names[partition] = name;
        }

        return name;
    }

    private static bool TryParsePartition(string name, out TopicPartition partition)
    {
        var slash = name.LastIndexOf('/');
        if (slash > 0 && int.TryParse(name.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var p))
        {
            partition = new TopicPartition(name[..slash], new Partition(p));
            return true;
        }

        partition = null!;
        return false;
    }
}

/// <summary>Client settings of a <see cref="KafkaEventSource"/> beyond the source definition.</summary>
public sealed record KafkaEventSourceOptions
{
    /// <summary>librdkafka settings applied last (e.g. <c>group.protocol</c>, <c>session.timeout.ms</c>, security).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>Receives librdkafka's log lines, when set.</summary>
    public Action<string>? LogHandler { get; init; }
}
