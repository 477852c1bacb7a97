using DuckDB.NET.Data;

namespace Freshet.Cli.Tests;

/// <summary><c>freshet historical</c> end to end on the quickstart repo: Parquet written, read back with DuckDB.</summary>
public sealed class HistoricalCommandTests : IAsyncLifetime
{
    private readonly TempRepo _repo = new();

    public async Task InitializeAsync()
    {
        await _repo.InitQuickstart();
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
    }

    public Task DisposeAsync()
    {
        _repo.Dispose();
        return Task.CompletedTask;
    }

    private string Source => Path.Combine(_repo.Dir, "data", "driver_stats.parquet");

    private static List<object?[]> Query(string sql, out List<string> names)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SET TimeZone = 'UTC'; " + sql;
        using var reader = command.ExecuteReader();
        names = [.. Enumerable.Range(0, reader.FieldCount).Select(reader.GetName)];
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : reader.GetValue(i))]);
        }

        return rows;
    }

    private static string Quote(string path) => "'" + path.Replace("'", "''", StringComparison.Ordinal) + "'";

    private string Labels()
    {
        var path = Path.Combine(_repo.Root, "labels.parquet");
        // Label times: after the data, before it, and in the middle of driver 1003's rows; a label and a request field.
        Query($"""
            COPY (SELECT * FROM (VALUES
              (1001::BIGINT, TIMESTAMPTZ '2025-01-01 00:00:00+00', 5::BIGINT, 'late'),
              (1002::BIGINT, TIMESTAMPTZ '2020-01-01 00:00:00+00', 7::BIGINT, 'early'),
              (1003::BIGINT, (SELECT max(event_timestamp) - INTERVAL 3 HOUR - INTERVAL 1 SECOND FROM read_parquet({Quote(Source)}) WHERE driver_id = 1003), 1::BIGINT, 'middle'),
              (1001::BIGINT, TIMESTAMPTZ '2025-01-01 00:00:00+00', 2::BIGINT, 'late again')
            ) AS t(driver_id, event_timestamp, val_to_add, outcome)) TO {Quote(path)} (FORMAT parquet)
            """, out _);
        return path;
    }

    [Fact]
    public async Task Service_with_an_on_demand_feature_writes_parquet_in_entity_order()
    {
        var labels = Labels();
        var output = Path.Combine(_repo.Root, "out", "train.parquet");
        var run = await _repo.Freshet("historical", "--entities", labels, "--service", "driver_activity", "--output", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Wrote 4 rows x 8 columns", run.Out, StringComparison.Ordinal);

        var rows = Query($"SELECT * FROM read_parquet({Quote(output)})", out var names);
        Assert.Equal(["driver_id", "event_timestamp", "val_to_add", "outcome", "conv_rate", "acc_rate", "avg_daily_trips", "conv_rate_plus_val1"], names);
        Assert.Equal(["late", "early", "middle", "late again"], rows.Select(r => r[3]));

        // An independent reading of the rule: the latest row at or before T, the greatest created time first.
        var expected = Query($"""
            SELECT (SELECT conv_rate FROM read_parquet({Quote(Source)}) s WHERE s.driver_id = l.driver_id AND s.event_timestamp <= l.event_timestamp
                    ORDER BY s.event_timestamp DESC, s.created DESC LIMIT 1)
            FROM read_parquet({Quote(labels)}) l
            """, out _);
        Assert.Equal(expected.Select(r => r[0]), rows.Select(r => r[4]));
        Assert.Null(rows[1][4]);
        Assert.NotNull(rows[2][4]);

        // The on-demand feature: conv_rate + val_to_add, null where conv_rate is.
        for (var i = 0; i < rows.Count; i++)
        {
            var conv = (float?)rows[i][4];
            Assert.Equal(conv is null ? null : conv.Value + (double)(long)rows[i][2]!, (double?)rows[i][7]);
        }

        var types = Query($"DESCRIBE SELECT * FROM read_parquet({Quote(output)})", out _).ToDictionary(r => (string)r[0]!, r => (string)r[1]!);
        Assert.Equal("FLOAT", types["conv_rate"]);
        Assert.Equal("INTEGER", types["avg_daily_trips"]);
        Assert.Equal("DOUBLE", types["conv_rate_plus_val1"]);
    }

    [Fact]
    public async Task On_demand_feature_alone_reads_its_inputs_without_writing_them()
    {
        var output = Path.Combine(_repo.Root, "od.parquet");
        var run = await _repo.Freshet("historical", "--entities", Labels(), "--features", "transformed_conv_rate:conv_rate_plus_val2", "-o", output);
        Assert.Equal(1, run.ExitCode);
        // val_to_add_2 is a request field the entity file lacks: named, with the file.
        Assert.Contains("'val_to_add_2'", run.Err, StringComparison.Ordinal);

        run = await _repo.Freshet("historical", "--entities", Labels(), "--features", "transformed_conv_rate:conv_rate_plus_val1", "-o", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        var rows = Query($"SELECT * FROM read_parquet({Quote(output)})", out var names);
        Assert.Equal(["driver_id", "event_timestamp", "val_to_add", "outcome", "conv_rate_plus_val1"], names);
        var check = Path.Combine(_repo.Root, "check.parquet");
        run = await _repo.Freshet("historical", "--entities", Labels(), "--features", "driver_hourly_stats:conv_rate", "-o", check);
        Assert.True(run.ExitCode == 0, run.ToString());
        var withConv = Query($"SELECT * FROM read_parquet({Quote(check)})", out _);
        for (var i = 0; i < rows.Count; i++)
        {
            var conv = (float?)withConv[i][4];
            Assert.Equal(conv is null ? null : conv.Value + (double)(long)rows[i][2]!, (double?)rows[i][4]);
        }

        Assert.Null(rows[1][4]);
        Assert.NotNull(rows[0][4]);
    }

    [Fact]
    public async Task Full_feature_names_and_json()
    {
        var output = Path.Combine(_repo.Root, "named.parquet");
        var run = await _repo.Freshet("historical", "--entities", Labels(), "--features", "driver_hourly_stats:conv_rate,driver_hourly_stats:avg_daily_trips",
            "--full-feature-names", "-o", output, "--json", "--memory-limit", "256MB");
        Assert.True(run.ExitCode == 0, run.ToString());
        var json = run.Json();
        Assert.Equal(4, (long)json["rows"]!);
        Assert.Equal(output, (string)json["output"]!);
        Query($"SELECT * FROM read_parquet({Quote(output)})", out var names);
        Assert.Equal(["driver_id", "event_timestamp", "val_to_add", "outcome", "driver_hourly_stats__conv_rate", "driver_hourly_stats__avg_daily_trips"], names);
    }

    [Fact]
    public async Task Out_of_memory_exits_2_with_one_line_naming_the_limit_and_no_stack_trace()
    {
        var output = Path.Combine(_repo.Root, "oom.parquet");
        var spill = Path.Combine(_repo.Root, "spill");
        var run = await _repo.Freshet("historical", "--entities", Labels(), "--service", "driver_activity", "-o", output,
            "--memory-limit", "1MB", "--temp-directory", spill);
        Assert.True(run.ExitCode == 2, run.ToString());
        var lines = run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var error = Assert.Single(lines, l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("ran out of memory", error, StringComparison.Ordinal);
        Assert.Contains("memory limit 1MB", error, StringComparison.Ordinal);
        Assert.Contains("--memory-limit", error, StringComparison.Ordinal);
        Assert.Contains("--temp-directory", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFileSystemEntries(spill));
    }

    [Fact]
    public async Task Bad_input_fails_with_a_message_naming_the_file_column_or_reference()
    {
        var output = Path.Combine(_repo.Root, "bad.parquet");
        var noKey = Path.Combine(_repo.Root, "nokey.csv");
        await File.WriteAllTextAsync(noKey, "driver,event_timestamp\n1001,2024-01-01T00:00:00Z\n");
        var run = await _repo.Freshet("historical", "--entities", noKey, "--features", "driver_hourly_stats:conv_rate", "-o", output);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(noKey, run.Err, StringComparison.Ordinal);
        Assert.Contains("'driver_id'", run.Err, StringComparison.Ordinal);

        var noTime = Path.Combine(_repo.Root, "notime.csv");
        await File.WriteAllTextAsync(noTime, "driver_id,ts\n1001,2024-01-01T00:00:00Z\n");
        run = await _repo.Freshet("historical", "--entities", noTime, "--features", "driver_hourly_stats:conv_rate", "-o", output);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("'event_timestamp'", run.Err, StringComparison.Ordinal);

        run = await _repo.Freshet("historical", "--entities", Labels(), "--features", "driver_hourly_stats:nope", "-o", output);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("'nope'", run.Err, StringComparison.Ordinal);

        run = await _repo.Freshet("historical", "--entities", Labels(), "--service", "nope", "-o", output);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("unknown feature service 'nope'", run.Err, StringComparison.Ordinal);

        run = await _repo.Freshet("historical", "--entities", Labels(), "-o", output);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--features", run.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }
}
