using Freshet.Conformance.Tests;

namespace Freshet.Cli.Tests;

/// <summary>
/// The quickstart repo, unchanged but for <c>online_store</c> in freshet.yaml, on a real redis-server and on a
/// three-master Redis Cluster: init, apply, materialize, serve, and a Feast request whose answer equals the one the
/// same repo gives on the embedded RocksDB store.
/// </summary>
public sealed class QuickstartOnRedisTests(RedisSingleFixture redis, RedisClusterFixture cluster) : IClassFixture<RedisSingleFixture>, IClassFixture<RedisClusterFixture>
{
    private const string Request = """
        {"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"],
         "entities": {"driver_id": [1001, 1002, 1003, 1004, 1005, 9999]}}
        """;

    [Fact]
    public async Task The_quickstart_on_one_redis_server_answers_as_it_does_on_rocksdb()
    {
        var (expectedRows, expected) = await Answer(null);
        var (rows, answer) = await Answer(redis.ConnectionString);

        Assert.Equal(expectedRows, rows);
        Assert.Equal(expected, answer);
    }

    [Fact]
    public async Task The_quickstart_on_a_redis_cluster_answers_as_it_does_on_rocksdb()
    {
        var (expectedRows, expected) = await Answer(null);
        var (rows, answer) = await Answer(cluster.ConnectionString);

        Assert.Equal(expectedRows, rows);
        Assert.Equal(expected, answer);
    }

    [Fact]
    public async Task An_unreachable_redis_is_one_line_naming_it()
    {
        using var repo = await new TempRepo().InitQuickstart();
        var port = RedisServers.FreePort();
        repo.Edit("freshet.yaml", "type: rocksdb", $"type: redis\n  connection_string: \"127.0.0.1:{port},connectTimeout=2000\"");

        var materialize = await repo.Freshet("materialize", "2000-01-01", "2100-01-01");

        Assert.Equal(1, materialize.ExitCode);
        Assert.Contains($"cannot connect to Redis at 127.0.0.1:{port}", materialize.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", materialize.Err, StringComparison.Ordinal);
    }

    /// <summary>Materialized rows and the served answer of a fresh quickstart; on RocksDB when <paramref name="redisAt"/> is null.</summary>
    private static async Task<(long Rows, string Answer)> Answer(string? redisAt)
    {
        using var repo = await new TempRepo().InitQuickstart();
        if (redisAt is not null)
        {
            repo.Edit("freshet.yaml", "type: rocksdb", $"type: redis\n  connection_string: \"{redisAt}\"");
        }

        var apply = await repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        var materialize = await repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats", "--json");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        var rows = Assert.Single(materialize.Json()["views"]!.AsArray())!["rows"]!.GetValue<long>();

        await using var server = await ServerProcess.StartAsync(repo.Dir);
        var (status, body) = await server.PostAsync("/get-online-features", Request);
        Assert.True(status == 200, body?.ToJsonString());

        // Not an empty answer compared with another: every driver of the quickstart is there, 9999 is not.
        var statuses = body!["results"]![1]!["statuses"]!.AsArray().Select(s => s!.GetValue<string>()).ToList();
        Assert.Equal([.. Enumerable.Repeat("PRESENT", 5), "NOT_FOUND"], statuses);
        return (rows, body.ToJsonString());
    }
}
