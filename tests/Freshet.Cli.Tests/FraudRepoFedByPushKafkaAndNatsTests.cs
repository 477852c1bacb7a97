using System.Diagnostics;
using Freshet.Nats.Tests;

namespace Freshet.Cli.Tests;

/// <summary>
/// Issue 4's "done when", end to end: the fraud template (`freshet init --template fraud`) fed from all three paths into
/// the same views, Feast's <c>POST /push</c> to a running <c>freshet serve</c>, Kafka (librdkafka's mock cluster) and
/// NATS JetStream (a real nats-server), both consumed in the server's process (<c>serve --ingest</c>), serves through
/// <c>/get-online-features</c> exactly what brute force over every event sent computes.
/// <para>
/// An aggregation view reads one source, so the source moves: first <c>transactions</c> is a Kafka topic, with pushes
/// arriving at the same time; then the repo points it at a NATS subject (<c>freshet apply</c>), the server is started
/// again, and NATS events and more pushes land in the same tiles. The first server is stopped with SIGKILL.
/// </para>
/// </summary>
[Collection(StreamingEndToEndCollection.Name)]
public sealed class FraudRepoFedByPushKafkaAndNatsTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [NatsFact]
    public async Task Pushed_kafka_and_nats_transactions_are_served_as_windowed_features_equal_to_brute_force()
    {
        using var cluster = new KafkaMock();
        using var nats = new NatsServer();
        var init = await TempRepo.Run("init", _repo.Dir, "--template", "fraud");
        Assert.True(init.ExitCode == 0, init.ToString());
        _repo.Edit("sources.yaml", "bootstrap_servers: 127.0.0.1:9092", $"bootstrap_servers: {cluster.BootstrapServers}");
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());

        var random = new Random(20261131);
        var sent = new List<Txn>();
        const int Accounts = 10;
        var rows = Enumerable.Range(0, Accounts).Select(i => ($"acct{i}", $"m{i * 3}", 50.0 + (i * 17.5))).ToList();

        // Kafka and push at once: a backlog on the topic before the server starts, then both while it runs.
        var backlog = Txn.Generate(random, 800, Accounts, DateTimeOffset.UtcNow);
        cluster.Produce("transactions", backlog.Select(t => (t.Account, t.Json())));
        sent.AddRange(backlog);
        await using (var server = await ServerProcess.StartAsync(_repo.Dir, extraArgs: ["--ingest", "transactions"]))
        {
            var produced = Txn.Generate(random, 800, Accounts, DateTimeOffset.UtcNow);
            var producing = Task.Run(() =>
            {
                foreach (var chunk in produced.Chunk(100))
                {
                    cluster.Produce("transactions", chunk.Select(t => (t.Account, t.Json())));
                    Thread.Sleep(100);
                }
            });
            var pushed = Txn.Generate(random, 600, Accounts, DateTimeOffset.UtcNow);
            await PushAsync(server, pushed);
            await producing.WaitAsync(Bound);
            sent.AddRange(produced);
            sent.AddRange(pushed);
            await ServedAsync(server, sent, rows);
        }

        // The same source, now on NATS: the views keep their tiles and count on.
        JetStream.MoveTransactionsToNats(_repo, nats.Url, "card.txns");
        apply = await _repo.Freshet("apply", "--yes");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        await using var js = await JetStream.CreateAsync(nats.Url, "CARD_TXNS", "card.txns");
        var queued = Txn.Generate(random, 800, Accounts, DateTimeOffset.UtcNow);
        await js.PublishAsync("card.txns", queued.Select(t => t.Json()));
        sent.AddRange(queued);
        await using (var server = await ServerProcess.StartAsync(_repo.Dir, extraArgs: ["--ingest", "transactions"]))
        {
            var published = Txn.Generate(random, 800, Accounts, DateTimeOffset.UtcNow);
            var publishing = Task.Run(async () =>
            {
                foreach (var chunk in published.Chunk(100))
                {
                    await js.PublishAsync("card.txns", chunk.Select(t => t.Json()));
                    await Task.Delay(100);
                }
            });
            var pushed = Txn.Generate(random, 600, Accounts, DateTimeOffset.UtcNow);
            await PushAsync(server, pushed);
            await publishing.WaitAsync(Bound);
            sent.AddRange(published);
            sent.AddRange(pushed);
            await ServedAsync(server, sent, rows);
        }
    }

    /// <summary>
    /// Pushes in batches of 50 rows. Each row feeds both views: the account view takes every event, the merchant view
    /// (24 h stddev, no allowed lateness: 25 h of retention) refuses those older than 25 h as <c>too_late</c>.
    /// </summary>
    private static async Task PushAsync(ServerProcess server, List<Txn> txns)
    {
        foreach (var chunk in txns.Chunk(50))
        {
            var (status, body) = await server.PostAsync("/push", Txn.PushBody("transactions", chunk));
            Assert.True(status == 200, body?.ToJsonString());
            var late = chunk.Count(t => DateTimeOffset.UtcNow - t.At > TimeSpan.FromHours(25));
            Assert.Equal(late, body!["events_rejected"]!.GetValue<int>());
            Assert.Equal((2 * chunk.Length) - late, body["events_aggregated"]!.GetValue<int>());
        }
    }

    /// <summary>Reads until the served values equal brute force over every event sent (the stream may still be catching up), then once more.</summary>
    private static async Task ServedAsync(ServerProcess server, List<Txn> sent, List<(string, string, double)> rows)
    {
        var clock = Stopwatch.StartNew();
        List<string> problems;
        while ((problems = await FraudServing.MismatchesAsync(server, sent, rows)).Count > 0 && clock.Elapsed < Bound)
        {
            await Task.Delay(250);
        }

        Assert.True(problems.Count == 0, $"after {clock.Elapsed.TotalSeconds:F0} s, {sent.Count} events sent:\n{string.Join('\n', problems.Take(30))}");

        // Nothing more arrives and nothing is counted twice later.
        await Task.Delay(1000);
        problems = await FraudServing.MismatchesAsync(server, sent, rows);
        Assert.True(problems.Count == 0, string.Join('\n', problems.Take(30)));
    }
}
