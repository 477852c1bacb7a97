using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Freshet.Cli.Tests;

/// <summary>A test's publisher to a real nats-server: a stream over one subject, and acknowledged publishes to it.</summary>
internal sealed class JetStream : IAsyncDisposable
{
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;

    private JetStream(NatsConnection connection)
    {
        _connection = connection;
        _js = new NatsJSContext(connection);
    }

    /// <summary>Connects and creates file-backed stream <paramref name="stream"/> capturing <paramref name="subject"/>.</summary>
    public static async Task<JetStream> CreateAsync(string url, string stream, string subject)
    {
        var connection = new NatsConnection(NatsOpts.Default with { Url = url });
        var client = new JetStream(connection);
        await client._js.CreateStreamAsync(new StreamConfig(stream, [subject]) { Storage = StreamConfigStorage.File });
        return client;
    }

    /// <summary>Publishes each message and waits for the stream's acknowledgement, so that it is stored before the call returns.</summary>
    public async Task PublishAsync(string subject, IEnumerable<string> messages)
    {
        foreach (var json in messages)
        {
            var ack = await _js.PublishAsync(subject, Encoding.UTF8.GetBytes(json));
            ack.EnsureSuccess();
        }
    }

    /// <summary>
    /// The stream sequence up to which durable <paramref name="durable"/> has acknowledged (0 when it does not exist or cannot be read right now). Freshet
    /// acks only after a batch and its positions are committed to its store, so this shows a processor's progress.
    /// </summary>
    public async Task<ulong> AckFloorAsync(string stream, string durable)
    {
        try
        {
            var consumer = await _js.GetConsumerAsync(stream, durable);
            return consumer.Info.AckFloor?.StreamSeq ?? 0;
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            return 0;
        }
        catch (NatsDeserializeException)
        {
            // The processor deletes and recreates its durable when it starts; an info request that meets that moment
            // can get an answer without the consumer's fields. Unknown for now: the callers ask again.
            return 0;
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    /// <summary>Turns the fraud template's Kafka <c>transactions</c> source into a NATS source reading <paramref name="subject"/>.</summary>
    public static void MoveTransactionsToNats(TempRepo repo, string url, string subject)
    {
        var text = repo.Read("sources.yaml");
        var start = text.IndexOf("    type: kafka\n", StringComparison.Ordinal);
        const string Topic = "    topic: transactions\n";
        var end = text.IndexOf(Topic, start + 1, StringComparison.Ordinal);
        Assert.True(start > 0 && end > start, "the fraud template's transactions source is not the Kafka source this test expects");
        repo.Write("sources.yaml", text[..start] + $"    type: nats\n    url: {url}\n    subject: {subject}\n" + text[(end + Topic.Length)..]);
    }
}
