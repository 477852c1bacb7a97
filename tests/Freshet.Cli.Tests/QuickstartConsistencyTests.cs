using System.Globalization;
using System.Text.Json.Nodes;
using DuckDB.NET.Data;

namespace Freshet.Cli.Tests;

/// <summary>
/// Issue 5's "done when" for the quickstart: the training set <c>freshet historical</c> writes for drivers × times
/// equals what a running <c>freshet serve</c> returns at those moments (after the rows up to each moment are
/// materialized), and <c>freshet consistency</c> on <c>driver_hourly_stats</c> reports zero mismatches, while a
/// value the two paths read differently is reported.
/// </summary>
public sealed class QuickstartConsistencyTests : IAsyncLifetime
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

    private static string Quote(string path) => "'" + path.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static List<object?[]> Query(string sql)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SET TimeZone = 'UTC'; " + sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : reader.GetValue(i))]);
        }

        return rows;
    }

    private static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    private static string Rfc3339(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// Times before the data, on rows (three event times of the file), between rows (30 minutes after those: the
    /// file is hourly) and after the data, ascending.
    /// </summary>
    private List<DateTimeOffset> Times()
    {
        var bounds = Query($"SELECT epoch_us(min(event_timestamp)), epoch_us(max(event_timestamp)) FROM read_parquet({Quote(Source)})").Single();
        var on = Query($"""
            SELECT t FROM (SELECT DISTINCT epoch_us(event_timestamp) AS t FROM read_parquet({Quote(Source)}))
            ORDER BY t LIMIT 3 OFFSET 40
            """).Select(r => (long)r[0]!).ToList();
        var more = Query($"SELECT DISTINCT epoch_us(event_timestamp) AS t FROM read_parquet({Quote(Source)}) ORDER BY t DESC LIMIT 1 OFFSET 20").Select(r => (long)r[0]!);
        on.AddRange(more);
        var times = new List<DateTimeOffset> { FromMicros((long)bounds[0]!).AddHours(-1), FromMicros((long)bounds[1]!).AddDays(1) };
        foreach (var t in on)
        {
            times.Add(FromMicros(t));
            times.Add(FromMicros(t).AddMinutes(30));
        }

        return [.. times.Distinct().Order()];
    }

    [Fact]
    public async Task Historical_training_set_equals_what_the_server_serves_at_the_same_moments()
    {
        var times = Times();
        var drivers = Query($"SELECT DISTINCT driver_id FROM read_parquet({Quote(Source)}) ORDER BY 1").Select(r => (long)r[0]!).Append(9999).ToList();
        Assert.True(drivers.Count >= 4, $"{drivers.Count} drivers");

        // The entity file: every driver at every time, in a shuffled order (the output keeps the file's order).
        var entities = Path.Combine(_repo.Root, "entities.parquet");
        var values = string.Join(", ", drivers.SelectMany(d => times.Select(t => $"({d}::BIGINT, TIMESTAMPTZ '{Rfc3339(t)}')")));
        Query($"COPY (SELECT * FROM (VALUES {values}) AS v(driver_id, event_timestamp) ORDER BY hash(driver_id, event_timestamp)) TO {Quote(entities)} (FORMAT parquet)");
        var output = Path.Combine(_repo.Root, "train.parquet");
        var run = await _repo.Freshet("historical", "--entities", entities, "--features",
            "driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate,driver_hourly_stats:avg_daily_trips", "-o", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        var training = Query($"SELECT driver_id, epoch_us(event_timestamp), conv_rate, acc_rate, avg_daily_trips FROM read_parquet({Quote(output)})")
            .ToDictionary(r => ((long)r[0]!, (long)r[1]!), r => (Conv: (float?)r[2], Acc: (float?)r[3], Trips: (int?)r[4]));
        Assert.Equal(drivers.Count * times.Count, training.Count);

        // Online: a running server, fed up to each moment through POST /materialize, read through POST /get-online-features.
        await using var server = await ServerProcess.StartAsync(_repo.Dir);
        var start = "1970-01-01T00:00:00Z";
        var compared = 0;
        var present = 0;
        foreach (var t in times)
        {
            // Materialization windows are [start, end): end one microsecond after T holds every row at or before T.
            var end = Rfc3339(t.AddTicks(10));
            var (status, body) = await server.PostAsync("/materialize", $$"""{"start_ts": "{{start}}", "end_ts": "{{end}}", "feature_views": ["driver_hourly_stats"]}""");
            Assert.True(status == 200, $"materialize to {end}: {status} {body?.ToJsonString()}");
            start = end;

            var request = new JsonObject
            {
                ["features"] = new JsonArray("driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"),
                ["entities"] = new JsonObject { ["driver_id"] = new JsonArray([.. drivers.Select(d => (JsonNode)d)]) },
            };
            (status, body) = await server.PostAsync("/get-online-features", request.ToJsonString());
            Assert.True(status == 200, body?.ToJsonString());
            var results = body!["results"]!.AsArray();
            for (var i = 0; i < drivers.Count; i++)
            {
                var expected = training[(drivers[i], (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10)];
                var conv = results[1]!["values"]![i];
                var acc = results[2]!["values"]![i];
                var trips = results[3]!["values"]![i];
                var where = $"driver {drivers[i]} at {Rfc3339(t)}";
                Assert.True(expected.Conv == conv?.GetValue<float>(), $"{where}: conv_rate online {conv?.ToJsonString() ?? "null"}, training {expected.Conv}");
                Assert.True(expected.Acc == acc?.GetValue<float>(), $"{where}: acc_rate online {acc?.ToJsonString() ?? "null"}, training {expected.Acc}");
                Assert.True(expected.Trips == trips?.GetValue<int>(), $"{where}: avg_daily_trips online {trips?.ToJsonString() ?? "null"}, training {expected.Trips}");
                compared++;
                present += expected.Conv is null ? 0 : 1;
            }
        }

        // Not vacuous: values before the data and for the unknown driver are missing, most others present.
        Assert.Equal(drivers.Count * times.Count, compared);
        Assert.InRange(present, (drivers.Count - 1) * (times.Count - 1) / 2, (drivers.Count - 1) * (times.Count - 1));

        // The consistency command over the same file at the same moments: zero mismatches.
        var check = await _repo.Freshet("consistency", "--view", "driver_hourly_stats", "--events", Source,
            "--at", string.Join(",", times.Select(Rfc3339)), "--json");
        Assert.True(check.ExitCode == 0, check.ToString());
        var report = check.Json();
        Assert.Equal(0, (long)report["mismatches"]!);
        Assert.Equal(0, (long)report["bad_rows"]!);
        Assert.Equal(drivers.Count - 1, (int)report["entities"]!);
        Assert.Equal(times.Count, (int)report["times"]!);
        var features = report["features"]!.AsArray();
        Assert.Equal(["conv_rate", "acc_rate", "avg_daily_trips"], features.Select(f => (string)f!["feature"]!));
        Assert.All(features, f => Assert.True((long)f!["non_null"]! > 0, f!.ToJsonString()));
    }

    [Fact]
    public async Task Consistency_every_hour_over_the_whole_quickstart_file_has_no_mismatch()
    {
        var run = await _repo.Freshet("consistency", "--view", "driver_hourly_stats", "--events", Source, "--at-every", "1h");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("No mismatches", run.Out, StringComparison.Ordinal);
        Assert.Contains("latest", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_the_two_paths_read_differently_is_a_mismatch_with_exit_1()
    {
        // The quickstart rows with avg_daily_trips as a DOUBLE, and one value altered to 123.5 in the latest row of
        // driver 1001 (greatest event time, then created time: the file has rows that tie on event time): the online write path refuses a fraction for an int32 feature, training data's DuckDB cast
        // rounds it, so from that row's time on the two disagree for driver 1001.
        var events = Path.Combine(_repo.Root, "altered.parquet");
        Query($"""
            COPY (SELECT * REPLACE (CASE WHEN (driver_id, event_timestamp, created) = (SELECT (driver_id, event_timestamp, created) FROM read_parquet({Quote(Source)})
                                                WHERE driver_id = 1001 ORDER BY event_timestamp DESC, created DESC LIMIT 1)
                                         THEN 123.5 ELSE avg_daily_trips::DOUBLE END AS avg_daily_trips)
                  FROM read_parquet({Quote(Source)})) TO {Quote(events)} (FORMAT parquet)
            """);
        var run = await _repo.Freshet("consistency", "--view", "driver_hourly_stats", "--events", events, "--at-every", "6h", "--json", "--examples", "3");
        Assert.True(run.ExitCode == 1, run.ToString());
        var report = run.Json();
        Assert.True((long)report["mismatches"]! > 0);
        Assert.Equal(1, (long)report["bad_rows"]!);
        var examples = report["examples"]!.AsArray();
        Assert.Equal(3, examples.Count);
        Assert.All(examples, e => Assert.Equal("driver_id=1001", (string)e!["entity"]!));
        Assert.Contains(examples, e => (string)e!["feature"]! == "avg_daily_trips" && (string)e["offline"]! is "124" or "123");

        var text = await _repo.Freshet("consistency", "--view", "driver_hourly_stats", "--events", events, "--at-every", "6h");
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("First mismatches:", text.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Historical_reads_the_entity_time_from_the_column_named_by_timestamp_column()
    {
        var entities = Path.Combine(_repo.Root, "labels.csv");
        await File.WriteAllTextAsync(entities, "driver_id,label_time,label\n1001,2030-01-01T00:00:00Z,1\n1002,2001-01-01T00:00:00Z,0\n");
        var output = Path.Combine(_repo.Root, "out.parquet");
        var run = await _repo.Freshet("historical", "--entities", entities, "--features", "driver_hourly_stats:conv_rate", "-o", output, "--timestamp-column", "label_time");
        Assert.True(run.ExitCode == 0, run.ToString());
        var rows = Query($"SELECT driver_id, label, conv_rate FROM read_parquet({Quote(output)})");
        var latest = Query($"SELECT conv_rate FROM read_parquet({Quote(Source)}) WHERE driver_id = 1001 ORDER BY event_timestamp DESC, created DESC LIMIT 1").Single()[0];
        Assert.Equal(latest, rows[0][2]);
        Assert.Null(rows[1][2]);

        // Without the option the file has no event_timestamp: the message names the file, the column and the option.
        run = await _repo.Freshet("historical", "--entities", entities, "--features", "driver_hourly_stats:conv_rate", "-o", output);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(entities, run.Err, StringComparison.Ordinal);
        Assert.Contains("'event_timestamp'", run.Err, StringComparison.Ordinal);
        Assert.Contains("--timestamp-column", run.Err, StringComparison.Ordinal);

        run = await _repo.Freshet("historical", "--entities", entities, "--features", "driver_hourly_stats:conv_rate", "-o", output, "--timestamp-column", "when");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("no column 'when'", run.Err, StringComparison.Ordinal);
        Assert.Contains("label_time", run.Err, StringComparison.Ordinal);
    }
}
