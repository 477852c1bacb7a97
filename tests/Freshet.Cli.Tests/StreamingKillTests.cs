using System.Diagnostics;
using System.Globalization;

namespace Freshet.Cli.Tests;

/// <summary>
/// The fraud template fed from Kafka (librdkafka's mock cluster, real protocol over TCP) by `freshet ingest`
/// processes killed with SIGKILL at random moments: in the end every event is counted exactly once, and the
/// windowed values equal brute force.
/// </summary>
public sealed class StreamingKillTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    private sealed record Txn(string Account, string Merchant, double Amount, DateTimeOffset At);

    [Fact]
    public async Task Kafka_events_are_counted_exactly_once_across_sigkills_of_the_processor()
    {
        using var cluster = new KafkaMock();
        var init = await TempRepo.Run("init", _repo.Dir, "--template", "fraud");
        Assert.True(init.ExitCode == 0, init.ToString());
        _repo.Edit("sources.yaml", "bootstrap_servers: 127.0.0.1:9092", $"bootstrap_servers: {cluster.BootstrapServers}");
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());

        // Events of the last 50 minutes, so that every window of the view holds all of them.
        var random = new Random(20261129);
        var now = DateTimeOffset.UtcNow;
        var txns = Enumerable.Range(0, 4000).Select(i => new Txn($"a{random.Next(0, 12)}", $"m{random.Next(0, 30)}", Math.Round(random.NextDouble() * 500, 2), now.AddSeconds(-random.Next(60, 3000)))).ToList();
        cluster.Produce("transactions", txns.Select(t => (t.Account, $$"""{"ts":"{{t.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}}","account_id":"{{t.Account}}","merchant_id":"{{t.Merchant}}","amount":{{t.Amount.ToString("R", CultureInfo.InvariantCulture)}},"currency":"EUR","card_present":{{(t.Amount > 250 ? "true" : "false")}}}""")));

        // Small batches so that kills land between commits; each run is killed after a random time.
        var cli = Path.Combine(AppContext.BaseDirectory, "freshet.dll");
        var kills = 0;
        for (var round = 0; round < 4; round++)
        {
            using var ingest = Process.Start(new ProcessStartInfo("dotnet", ["exec", cli, "ingest", "--source", "transactions", "--max-batch", "50", "--repo", _repo.Dir])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            if (!ingest.WaitForExit(random.Next(2500, 5000)))
            {
                ingest.Kill(entireProcessTree: true);
                kills++;
            }

            await ingest.WaitForExitAsync();
        }

        // A last run drains what is left and stops by itself.
        using (var drain = Process.Start(new ProcessStartInfo("dotnet", ["exec", cli, "ingest", "--source", "transactions", "--exit-when-idle", "5s", "--repo", _repo.Dir])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!)
        {
            var output = drain.StandardOutput.ReadToEndAsync();
            var errors = drain.StandardError.ReadToEndAsync();
            Assert.True(drain.WaitForExit(120_000), "the draining ingest did not stop");
            Assert.True(drain.ExitCode == 0, await output + await errors);
        }

        Assert.True(kills >= 3, $"only {kills} runs were killed");
        var accounts = txns.Select(t => t.Account).Distinct().Order().ToList();
        var get = await _repo.Freshet(["get", "--features", "account_txn_stats:count_1h,account_txn_stats:amount_sum_1d,account_txn_stats:merchant_id_count_distinct_1d",
            .. accounts.SelectMany(a => new[] { "--entity", $"account_id={a}" }), "--json"]);
        Assert.True(get.ExitCode == 0, get.ToString());
        var rows = get.Json()["rows"]!.AsArray();
        long total = 0;
        for (var i = 0; i < accounts.Count; i++)
        {
            var mine = txns.Where(t => t.Account == accounts[i]).ToList();
            var count = long.Parse(rows[i]!["count_1h"]!["value"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            var sum = double.Parse(rows[i]!["amount_sum_1d"]!["value"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            var distinct = long.Parse(rows[i]!["merchant_id_count_distinct_1d"]!["value"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            Assert.Equal(mine.Count, count);
            Assert.Equal(mine.Sum(t => t.Amount), sum, 6);
            Assert.Equal(mine.Select(t => t.Merchant).Distinct().Count(), distinct);
            total += count;
        }

        Assert.Equal(txns.Count, total);
    }

    [Fact]
    public async Task A_server_ingesting_in_process_serves_kafka_events_and_its_freshness()
    {
        using var cluster = new KafkaMock();
        Assert.Equal(0, (await TempRepo.Run("init", _repo.Dir, "--template", "fraud")).ExitCode);
        _repo.Edit("sources.yaml", "bootstrap_servers: 127.0.0.1:9092", $"bootstrap_servers: {cluster.BootstrapServers}");
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var now = DateTimeOffset.UtcNow;
        var amounts = Enumerable.Range(1, 40).Select(i => i * 2.5).ToList();
        cluster.Produce("transactions", amounts.Select((a, i) => ("acc", $$"""{"ts":"{{now.AddMinutes(-i - 1).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}}","account_id":"acc","merchant_id":"m{{i % 7}}","amount":{{a.ToString("R", CultureInfo.InvariantCulture)}},"card_present":true}""")));

        await using var server = await ServerProcess.StartAsync(_repo.Dir, extraArgs: ["--ingest", "transactions"]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        System.Text.Json.Nodes.JsonNode? body = null;
        while (DateTime.UtcNow < deadline)
        {
            (_, body) = await server.PostAsync("/get-online-features", """{"features": ["account_txn_stats:count_1h", "account_txn_stats:amount_sum_1d"], "entities": {"account_id": ["acc"]}}""");
            if (body?["results"]?[1]?["values"]?[0]?.GetValue<long>() == 40)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Equal(40, body!["results"]![1]!["values"]![0]!.GetValue<long>());
        Assert.Equal(amounts.Sum(), body["results"]![2]!["values"]![0]!.GetValue<double>(), 9);
        var freshness = await server.GetJsonAsync("/freshness");
        Assert.Contains("account_txn_stats", freshness!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Late_pushed_events_land_in_the_dead_letter_store_and_are_listed_with_their_reason()
    {
        Assert.Equal(0, (await TempRepo.Run("init", _repo.Dir, "--template", "fraud")).ExitCode);
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var late = DateTimeOffset.UtcNow.AddDays(-30).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var fresh = DateTimeOffset.UtcNow.AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        await using (var server = await ServerProcess.StartAsync(_repo.Dir))
        {
            var (status, body) = await server.PostAsync("/push", $$$"""
                {"push_source_name": "transactions", "to": "online",
                 "df": {"account_id": ["a", "a"], "merchant_id": ["m", "m"], "amount": [5.0, 7.0], "ts": ["{{{late}}}", "{{{fresh}}}"], "card_present": [true, true]}}
                """);
            Assert.True(status == 200, body?.ToJsonString());
            // Two views read the source (by account and by merchant): each counts the fresh event and refuses the late one.
            Assert.Equal(2, body!["events_rejected"]!.GetValue<int>());
            Assert.Equal(2, body["events_aggregated"]!.GetValue<int>());
        }

        var list = await _repo.Freshet("deadletter", "list", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        var json = list.Json();
        Assert.Equal(2, json["total"]!.GetValue<long>());
        Assert.Equal(["account_txn_stats", "merchant_txn_stats"], json["letters"]!.AsArray().Select(l => l!["view"]!.GetValue<string>()).Order());
        var letter = json["letters"]![0]!;
        Assert.Equal("too_late", letter["code"]!.GetValue<string>());
        Assert.Equal("transactions", letter["source"]!.GetValue<string>());
        Assert.Contains(late, letter["payload"]!.GetValue<string>(), StringComparison.Ordinal);

        // Still too late: the replay keeps it and says why.
        var replay = await _repo.Freshet("deadletter", "replay");
        Assert.Equal(1, replay.ExitCode);
        Assert.Contains("too_late", replay.Err, StringComparison.Ordinal);
        Assert.Equal(2, (await _repo.Freshet("deadletter", "list", "--json")).Json()["total"]!.GetValue<long>());
    }
}
