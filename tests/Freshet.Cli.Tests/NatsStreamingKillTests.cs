using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Freshet.Nats.Tests;

namespace Freshet.Cli.Tests;

/// <summary>
/// The fraud template with its <c>transactions</c> source on NATS JetStream (a real <c>nats-server -js</c>), consumed by
/// <c>freshet ingest</c> processes killed with SIGKILL at random moments while events are still being published: in the
/// end every event is counted exactly once and the windowed values equal brute force.
/// </summary>
[Collection(StreamingEndToEndCollection.Name)]
public sealed partial class NatsStreamingKillTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [NatsFact]
    public async Task Nats_events_are_counted_exactly_once_across_sigkills_of_the_processor()
    {
        using var nats = new NatsServer();
        var init = await TempRepo.Run("init", _repo.Dir, "--template", "fraud");
        Assert.True(init.ExitCode == 0, init.ToString());
        JetStream.MoveTransactionsToNats(_repo, nats.Url, "card.txns");
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());

        // The stream exists before the first publish (JetStream stores only subjects a stream captures); the source
        // finds it by its subject.
        await using var js = await JetStream.CreateAsync(nats.Url, "CARD_TXNS", "card.txns");
        var random = new Random(20261130);
        var txns = Txn.Generate(random, 4000, 12, DateTimeOffset.UtcNow);

        // Published in paced chunks while the processors run, so that kills land in the middle of the flow.
        var publishing = Task.Run(async () =>
        {
            foreach (var chunk in txns.Chunk(100))
            {
                await js.PublishAsync("card.txns", chunk.Select(t => t.Json()));
                await Task.Delay(300);
            }
        });

        // Each run is killed at a random moment after it has committed at least one batch of its own (Freshet acks
        // JetStream only after a commit), so that every kill interrupts a processor in the middle of the stream.
        var cli = Path.Combine(AppContext.BaseDirectory, "freshet.dll");
        var kills = 0;
        ulong floor = 0;
        for (var round = 0; round < 4; round++)
        {
            using var ingest = Process.Start(new ProcessStartInfo("dotnet", ["exec", cli, "ingest", "--source", "transactions", "--max-batch", "50", "--repo", _repo.Dir])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var clock = Stopwatch.StartNew();
            while (!ingest.HasExited && clock.Elapsed < Bound && await js.AckFloorAsync("CARD_TXNS", "freshet-transactions") <= floor)
            {
                await Task.Delay(20);
            }

            await Task.Delay(random.Next(0, 1500));
            if (ingest.HasExited)
            {
                Assert.Fail($"ingest stopped by itself: {await ingest.StandardError.ReadToEndAsync()}");
            }

            // SIGKILL by PID: no shutdown code runs.
            ingest.Kill();
            kills++;
            await ingest.WaitForExitAsync();
            floor = Math.Max(floor, await js.AckFloorAsync("CARD_TXNS", "freshet-transactions"));
        }

        await publishing.WaitAsync(TimeSpan.FromSeconds(60));

        // A last run drains what is left and stops by itself.
        string drained;
        using (var drain = Process.Start(new ProcessStartInfo("dotnet", ["exec", cli, "ingest", "--source", "transactions", "--exit-when-idle", "5s", "--repo", _repo.Dir])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!)
        {
            var output = drain.StandardOutput.ReadToEndAsync();
            var errors = drain.StandardError.ReadToEndAsync();
            if (!drain.WaitForExit(90_000))
            {
                drain.Kill();
                Assert.Fail("the draining ingest did not stop");
            }

            drained = await output;
            Assert.True(drain.ExitCode == 0, drained + await errors);
        }

        Assert.Equal(4, kills);

        // The killed runs committed part of the stream, so the drain resumed from stored positions rather than from the start.
        var rest = long.Parse(Stopped().Match(drained).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(rest < txns.Count, $"the drain read {rest} events: the killed runs committed nothing");

        // Served by `freshet serve` (which opens the store the processors wrote), read with Feast's JSON request.
        var accounts = txns.Select(t => t.Account).Distinct().Order().ToList();
        await using var server = await ServerProcess.StartAsync(_repo.Dir);
        var problems = await FraudServing.MismatchesAsync(server, txns, [.. accounts.Select((a, i) => (a, $"m{i}", 100.0 + i))]);
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [GeneratedRegex(@"Stopped after (\d+) event")]
    private static partial Regex Stopped();
}
