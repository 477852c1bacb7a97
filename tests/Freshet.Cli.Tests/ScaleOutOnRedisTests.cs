using System.Diagnostics;
using System.Text.RegularExpressions;
using Freshet.Conformance.Tests;
using Freshet.Postgres.Tests;

namespace Freshet.Cli.Tests;

/// <summary>Rewrites a template's freshet.yaml so its online store is Redis and its registry PostgreSQL, nothing else changed.</summary>
internal static partial class SharedBackEnds
{
    [GeneratedRegex(@"online_store:( rocksdb\n|\n  type: rocksdb[^\n]*\n)")]
    private static partial Regex OnlineStore();

    [GeneratedRegex(@"registry:( file\n|\n  type: file[^\n]*\n)")]
    private static partial Regex Registry();

    /// <summary>Points <paramref name="repo"/> at Redis (with <paramref name="cache"/> lines under it when given) and a PostgreSQL registry.</summary>
    public static void Use(TempRepo repo, string redis, string postgres, string? cache = null)
    {
        var yaml = repo.Read("freshet.yaml");
        var online = $"online_store:\n  type: redis\n  connection_string: \"{redis}\"\n" + (cache is null ? "" : $"  cache: {cache}\n");
        var changed = Registry().Replace(OnlineStore().Replace(yaml, online), $"registry:\n  type: postgres\n  connection_string: \"{postgres}\"\n");
        Assert.True(changed.Contains("type: redis", StringComparison.Ordinal) && changed.Contains("type: postgres", StringComparison.Ordinal), changed);
        repo.Write("freshet.yaml", changed);
    }
}

/// <summary>
/// Issue 6, deliverable 5, as processes: the fraud template (`freshet init --template fraud`) with its online store on a
/// three-master Redis Cluster and its registry in PostgreSQL; three `freshet ingest --source transactions` processes in
/// one Kafka consumer group (librdkafka's mock cluster) split the topic's 4 partitions; one is killed with SIGKILL
/// mid-stream, so its partitions move to the others only when its session ends; the two left drain the topic; then two
/// `freshet serve` processes on the same Redis both answer every account and merchant feature equal to brute force over
/// the events produced, each counted once.
/// </summary>
[Collection(StreamingEndToEndCollection.Name)]
public sealed class PartitionedIngestOnRedisTests(RedisClusterFixture redis, PostgresServer postgres)
    : IClassFixture<RedisClusterFixture>, IClassFixture<PostgresServer>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(150);
    private readonly TempRepo _repo = new();
    private readonly List<Process> _ingests = [];

    public void Dispose()
    {
        foreach (var ingest in _ingests)
        {
            if (!ingest.HasExited)
            {
                ingest.Kill(entireProcessTree: true);
                ingest.WaitForExit(30_000);
            }

            ingest.Dispose();
        }

        _repo.Dispose();
    }

    [Fact]
    public async Task Three_ingest_processes_share_the_partitions_and_a_sigkill_hands_its_partitions_over_with_no_event_lost_or_counted_twice()
    {
        using var kafka = new KafkaMock();
        var init = await TempRepo.Run("init", _repo.Dir, "--template", "fraud");
        Assert.True(init.ExitCode == 0, init.ToString());
        _repo.Edit("sources.yaml", "bootstrap_servers: 127.0.0.1:9092", $"bootstrap_servers: {kafka.BootstrapServers}");
        SharedBackEnds.Use(_repo, redis.ConnectionString, postgres.CreateDatabase());
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        Assert.False(File.Exists(_repo.RegistryFile), "the file registry was written although freshet.yaml names postgres");

        // A backlog before the processors start: keyed by account, so each account stays in one of the 4 partitions.
        const int Accounts = 16;
        var random = new Random(20261206);
        var sent = Txn.Generate(random, 12_000, Accounts, DateTimeOffset.UtcNow);
        kafka.Produce("transactions", sent.Select(t => (t.Account, t.Json())));

        // The servers first: started after the ingest processes, a quiet machine's ingests drained the whole
        // backlog while the servers were starting, before the kill could land mid-stream.
        await using var first = await ServerProcess.StartAsync(_repo.Dir);
        await using var second = await ServerProcess.StartAsync(_repo.Dir);

        // Small batches, so that the kill lands between commits and each process holds partitions for a while.
        var cli = Path.Combine(AppContext.BaseDirectory, "freshet.dll");
        for (var i = 0; i < 3; i++)
        {
            _ingests.Add(Process.Start(new ProcessStartInfo("dotnet", ["exec", cli, "ingest", "--source", "transactions", "--max-batch", "25", "--repo", _repo.Dir])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!);
        }

        var stderr = _ingests.Select(p => p.StandardError.ReadToEndAsync()).ToList();
        _ingests.ForEach(p => _ = p.StandardOutput.ReadToEndAsync());
        var rows = Enumerable.Range(0, Accounts).Select(i => ($"acct{i}", $"m{i * 2}", 40.0 + (i * 11.5))).ToList();

        // Mid-stream: part of the backlog is in the store, not all of it.
        var clock = Stopwatch.StartNew();
        while (await CountedAsync(first, Accounts) < 100)
        {
            Assert.True(clock.Elapsed < Bound, $"the ingest processes applied nothing: {await Describe(stderr, _ingests)}");
            Assert.True(_ingests.All(p => !p.HasExited), $"an ingest process stopped: {await Describe(stderr, _ingests)}");
            await Task.Delay(100);
        }

        var counted = await CountedAsync(first, Accounts);
        _ingests[0].Kill(entireProcessTree: true);
        await _ingests[0].WaitForExitAsync();
        Assert.True(counted < sent.Count / 3, $"the backlog was drained before the kill ({counted} of the last hour counted)");

        // More events on every partition after the kill: the dead one's partitions have work only the others can do.
        var after = Txn.Generate(random, 1000, Accounts, DateTimeOffset.UtcNow);
        kafka.Produce("transactions", after.Select(t => (t.Account, t.Json())));
        sent.AddRange(after);

        // The survivors drain the topic once the dead member's session ends; both servers then read it all from Redis.
        List<string> problems;
        while ((problems = [.. await FraudServing.MismatchesAsync(first, sent, rows), .. await FraudServing.MismatchesAsync(second, sent, rows)]).Count > 0)
        {
            Assert.True(clock.Elapsed < Bound, $"after {clock.Elapsed.TotalSeconds:F0} s, {sent.Count} events sent:\n{string.Join('\n', problems.Take(30))}\n{await Describe(stderr, _ingests.Skip(1))}");
            Assert.True(_ingests.Skip(1).All(p => !p.HasExited), $"a surviving ingest process stopped: {await Describe(stderr, _ingests)}");
            await Task.Delay(500);
        }

        // Nothing is counted twice later either (a replay by a survivor would show here).
        await Task.Delay(1000);
        problems = [.. await FraudServing.MismatchesAsync(first, sent, rows), .. await FraudServing.MismatchesAsync(second, sent, rows)];
        Assert.True(problems.Count == 0, string.Join('\n', problems.Take(30)));
    }

    /// <summary>The sum over every account of the 1 h count (a third of the generated events): how far the ingest got.</summary>
    private static async Task<long> CountedAsync(ServerProcess server, int accounts)
    {
        var ids = string.Join(", ", Enumerable.Range(0, accounts).Select(i => $"\"acct{i}\""));
        var (status, body) = await server.PostAsync("/get-online-features", $$$"""{"features": ["account_txn_stats:count_1h"], "entities": {"account_id": [{{{ids}}}]}}""");
        Assert.True(status == 200, body?.ToJsonString());
        return body!["results"]![1]!["values"]!.AsArray().Sum(v => v?.GetValueKind() == System.Text.Json.JsonValueKind.Number ? v.GetValue<long>() : 0);
    }

    private static async Task<string> Describe(List<Task<string>> stderr, IEnumerable<Process> processes)
    {
        var exited = processes.Where(p => p.HasExited).Select(p => $"pid {p.Id} exited {p.ExitCode}").ToList();
        var errors = new List<string>();
        foreach (var e in stderr.Where(t => t.IsCompleted))
        {
            errors.Add(await e);
        }

        return $"{string.Join(", ", exited)}\n{string.Join("\n---\n", errors)}";
    }
}

/// <summary>
/// The fraud template fed by Feast's <c>POST /push</c> with its online store on a three-master Redis Cluster (an L1 cache
/// in front, invalidated over Redis pub/sub) and its registry in PostgreSQL, served by two <c>freshet serve</c>
/// processes: what is pushed through one is read, equal to brute force, through the other, although the other had
/// cached the rows before the push.
/// </summary>
[Collection(StreamingEndToEndCollection.Name)]
public sealed class PushOnRedisTwoServersTests(RedisClusterFixture redis, PostgresServer postgres)
    : IClassFixture<RedisClusterFixture>, IClassFixture<PostgresServer>, IDisposable
{
    // The cache may serve an entry this long; a read that sees a push sooner was invalidated, not expired.
    private static readonly TimeSpan Staleness = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public async Task A_push_through_one_server_is_read_through_the_other_and_invalidates_its_cache()
    {
        var init = await TempRepo.Run("init", _repo.Dir, "--template", "fraud");
        Assert.True(init.ExitCode == 0, init.ToString());
        SharedBackEnds.Use(_repo, redis.ConnectionString, postgres.CreateDatabase(), "{max_staleness: 5m, invalidation: pubsub}");
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());

        await using var writer = await ServerProcess.StartAsync(_repo.Dir);
        await using var reader = await ServerProcess.StartAsync(_repo.Dir);
        const int Accounts = 8;
        var rows = Enumerable.Range(0, Accounts).Select(i => ($"acct{i}", $"m{i * 5}", 25.0 + (i * 9.5))).ToList();
        var random = new Random(20261207);
        var sent = new List<Txn>();

        for (var round = 0; round < 3; round++)
        {
            // The reader caches what it serves now (rows, or "no row" before the first push); the push then replaces them.
            var before = await FraudServing.MismatchesAsync(reader, sent, rows);
            if (round == 0)
            {
                Assert.True(before.Count > 0 && before.All(p => p.Contains("got NOT_FOUND", StringComparison.Ordinal)), $"before the first push:\n{string.Join('\n', before.Take(20))}");
            }
            else
            {
                Assert.True(before.Count == 0, $"round {round}, before the push:\n{string.Join('\n', before.Take(20))}");
            }

            var pushed = Txn.Generate(random, 300, Accounts, DateTimeOffset.UtcNow);
            foreach (var chunk in pushed.Chunk(50))
            {
                var (status, body) = await writer.PostAsync("/push", Txn.PushBody("transactions", chunk));
                Assert.True(status == 200, body?.ToJsonString());
            }

            sent.AddRange(pushed);
            var clock = Stopwatch.StartNew();
            List<string> problems;
            while ((problems = await FraudServing.MismatchesAsync(reader, sent, rows)).Count > 0)
            {
                Assert.True(clock.Elapsed < Bound, $"round {round}: the reader still serves old values after {clock.Elapsed.TotalSeconds:F0} s:\n{string.Join('\n', problems.Take(20))}");
                await Task.Delay(100);
            }

            Assert.True(clock.Elapsed < Staleness, "seen only after the cache's staleness bound");
            var own = await FraudServing.MismatchesAsync(writer, sent, rows);
            Assert.True(own.Count == 0, string.Join('\n', own.Take(20)));
        }
    }
}

/// <summary>The quickstart, unchanged but for freshet.yaml, with its online store on Redis and its registry in PostgreSQL together.</summary>
public sealed class QuickstartOnRedisAndPostgresTests(RedisSingleFixture redis, PostgresServer postgres)
    : IClassFixture<RedisSingleFixture>, IClassFixture<PostgresServer>
{
    [Fact]
    public async Task The_quickstart_on_redis_with_a_postgres_registry_serves_the_latest_row_of_every_driver()
    {
        using var repo = await new TempRepo().InitQuickstart();
        SharedBackEnds.Use(repo, redis.ConnectionString, postgres.CreateDatabase());
        var apply = await repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        Assert.False(File.Exists(repo.RegistryFile), "the file registry was written although freshet.yaml names postgres");
        var materialize = await repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats", "--json");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        Assert.False(Directory.Exists(Path.Combine(repo.Dir, "data", "online")), "the embedded store was written although freshet.yaml names redis");

        var expected = QuickstartServingTests.LatestPerDriver(Path.Combine(repo.Dir, "data", "driver_stats.parquet"));
        Assert.Equal(expected.Count, Assert.Single(materialize.Json()["views"]!.AsArray())!["rows"]!.GetValue<long>());
        await using var serve = await ServerProcess.StartAsync(repo.Dir);
        var ids = expected.Keys.Order().ToList();
        var (status, body) = await serve.PostAsync("/get-online-features",
            $$$"""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [{{{string.Join(", ", ids)}}}, 9999]}}""");
        Assert.True(status == 200, body?.ToJsonString());
        var results = body!["results"]!.AsArray();
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(expected[ids[i]].ConvRate, results[1]!["values"]![i]!.GetValue<float>());
            Assert.Equal("PRESENT", results[1]!["statuses"]![i]!.GetValue<string>());
        }

        Assert.Equal("NOT_FOUND", results[1]!["statuses"]![ids.Count]!.GetValue<string>());
    }
}
