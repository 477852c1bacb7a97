using DuckDB.NET.Data;

namespace Freshet.Cli.Tests;

/// <summary><c>freshet consistency</c> end to end on the fraud template: a generated Parquet file of transactions replayed both ways.</summary>
public sealed class ConsistencyCommandTests : IAsyncLifetime
{
    private readonly TempRepo _repo = new();

    public async Task InitializeAsync()
    {
        var init = await TempRepo.Run("init", _repo.Dir, "--template", "fraud");
        Assert.True(init.ExitCode == 0, init.ToString());
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
    }

    public Task DisposeAsync()
    {
        _repo.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Pseudo-random transactions over three days (DuckDB's hash of the row number), with the fraud source's columns.</summary>
    private string Transactions(int rows, string name = "txns.parquet")
    {
        var path = Path.Combine(_repo.Root, name);
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SET TimeZone = 'UTC';
            COPY (SELECT TIMESTAMP '2024-05-01 00:00:00' + to_microseconds((hash(i) % 259200000000)::BIGINT) AS ts,
              'acct-' || (hash(i * 7) % 25)::VARCHAR AS account_id, 'm' || (hash(i * 13) % 40)::VARCHAR AS merchant_id,
              round((hash(i * 17) % 100000) / 100.0, 2)::DOUBLE AS amount, 'EUR' AS currency, (hash(i * 19) % 2 = 0) AS card_present
              FROM range({rows}) t(i)) TO '{path.Replace("'", "''", StringComparison.Ordinal)}' (FORMAT parquet)
            """;
        command.ExecuteNonQuery();
        return path;
    }

    [Fact]
    public async Task Fraud_account_txn_stats_online_equals_offline_every_hour()
    {
        var events = Transactions(4000);
        var run = await _repo.Freshet("consistency", "--view", "account_txn_stats", "--events", events, "--at-every", "1h", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var report = run.Json();
        Assert.Equal(0, (long)report["mismatches"]!);
        Assert.Equal(4000, (long)report["events"]!);
        Assert.Equal(0, (long)report["online_rejected"]!);
        Assert.Equal(25, (int)report["entities"]!);

        // 72 hourly times from the first event, and one just after the last.
        Assert.InRange((int)report["times"]!, 72, 74);
        var features = report["features"]!.AsArray();
        Assert.Equal(7, features.Count);
        Assert.Equal((long)report["compared"]!, features.Sum(f => (long)f!["compared"]!));
        Assert.All(features, f => Assert.True((long)f!["non_null"]! > 0, f!.ToJsonString()));
    }

    [Fact]
    public async Task Fraud_account_profile_a_plain_view_with_a_ttl_online_equals_training_data()
    {
        // Snapshots of 30 accounts at pseudo-random times over ten days: account_profile has a ttl of 2d, so some reads
        // find a row too old (OUTSIDE_MAX_AGE online, null in training data) and some a fresh one.
        var path = Path.Combine(_repo.Root, "profiles.parquet");
        using (var connection = new DuckDBConnection("Data Source=:memory:"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                SET TimeZone = 'UTC';
                COPY (SELECT TIMESTAMP '2024-05-01 00:00:00' + to_microseconds((hash(i) % 864000000000)::BIGINT) AS snapshot_ts,
                  'acct-' || (hash(i * 7) % 30)::VARCHAR AS account_id, round((hash(i * 11) % 1000000) / 100.0, 2)::DOUBLE AS credit_limit,
                  (hash(i * 13) % 3000)::INTEGER AS account_age_days, CASE WHEN hash(i * 17) % 10 = 0 THEN NULL ELSE 'c' || (hash(i * 17) % 5)::VARCHAR END AS country
                  FROM range(300) t(i)) TO '{path.Replace("'", "''", StringComparison.Ordinal)}' (FORMAT parquet)
                """;
            command.ExecuteNonQuery();
        }

        var run = await _repo.Freshet("consistency", "--view", "account_profile", "--events", path, "--at-every", "3h", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var report = run.Json();
        Assert.Equal(0, (long)report["mismatches"]!);
        Assert.Equal(30, (int)report["entities"]!);
        var features = report["features"]!.AsArray();
        Assert.Equal(["credit_limit", "account_age_days", "country"], features.Select(f => (string)f!["feature"]!));

        // Present in some reads and absent (before the first snapshot, or expired) in others.
        var present = (long)features[0]!["non_null"]!;
        Assert.InRange(present, 1, (long)features[0]!["compared"]! - 1);
    }

    [Fact]
    public async Task Explicit_times_print_a_table_per_feature()
    {
        var events = Transactions(500);
        var run = await _repo.Freshet("consistency", "--view", "merchant_txn_stats", "--events", events, "--at", "2024-05-01T12:00:00Z, 2024-05-02T00:00:00Z,2024-05-04");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("3 times", run.Out, StringComparison.Ordinal);
        Assert.Contains("amount_stddev_1d", run.Out, StringComparison.Ordinal);
        Assert.Contains("No mismatches", run.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--view", "no_such_view", "'no_such_view'")]
    [InlineData("--view", "amount_vs_avg", "on-demand view")]
    [InlineData("--view", "account_profile", "no column 'snapshot_ts'")]
    [InlineData("--at", "yesterday-ish", "'yesterday-ish' is not a time")]
    [InlineData("--at-every", "often", "--at-every 'often'")]
    [InlineData("--events", "missing.parquet", "missing.parquet' not found")]
    public async Task Bad_input_exits_2_with_one_clear_line(string option, string value, string message)
    {
        var events = Transactions(50);
        var args = new Dictionary<string, string>
        {
            ["--view"] = "account_txn_stats",
            ["--events"] = events,
            ["--at"] = "2024-05-02T00:00:00Z",
        };
        if (option == "--at-every")
        {
            args.Remove("--at");
        }

        args[option] = option == "--events" ? Path.Combine(_repo.Root, value) : value;
        var run = await _repo.Freshet(["consistency", .. args.SelectMany(a => new[] { a.Key, a.Value })]);
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(message, run.Err, StringComparison.Ordinal);
        Assert.StartsWith("error: ", run.Err, StringComparison.Ordinal);
        Assert.Single(run.Err.Trim().Split('\n'));
    }

    [Fact]
    public async Task An_events_file_without_the_view_columns_is_bad_input()
    {
        var path = Path.Combine(_repo.Root, "other.csv");
        await File.WriteAllTextAsync(path, "x,y\n1,2\n");
        var run = await _repo.Freshet("consistency", "--view", "account_txn_stats", "--events", path, "--at", "2024-05-02");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("account_id", run.Err, StringComparison.Ordinal);
    }
}
