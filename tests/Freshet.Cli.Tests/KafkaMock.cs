using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;

namespace Freshet.Cli.Tests;

/// <summary>librdkafka's mock cluster, kept alive by a producer; other clients reach it over TCP.</summary>
internal sealed partial class KafkaMock : IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;

    public KafkaMock()
    {
        var address = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var config = new ProducerConfig { BootstrapServers = "unused:9092", Acks = Acks.All };
        config.Set("test.mock.num.brokers", "3");
        _producer = new ProducerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, m) =>
            {
                if (Replaced().Match(m.Message) is { Success: true } match)
                {
                    address.TrySetResult(match.Groups[1].Value);
                }
            })
            .Build();
        Assert.True(address.Task.Wait(TimeSpan.FromSeconds(10)), "the mock cluster did not log its address");
        BootstrapServers = address.Task.Result;
    }

    public string BootstrapServers { get; }

    /// <summary>Produces the messages (keyed, so that one key stays in one partition) and waits for every acknowledgement.</summary>
    public void Produce(string topic, IEnumerable<(string Key, string Json)> messages)
    {
        foreach (var (key, json) in messages)
        {
            _producer.Produce(topic, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = Encoding.UTF8.GetBytes(json) });
        }

        Assert.Equal(0, _producer.Flush(TimeSpan.FromSeconds(30)));
    }

    public void Dispose() => _producer.Dispose();

    [GeneratedRegex(@"replaced with (\S+?:\d+)")]
    private static partial Regex Replaced();
}
