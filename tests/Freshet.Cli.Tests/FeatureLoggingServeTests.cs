using System.Globalization;
using System.Text.Json.Nodes;
using System.Diagnostics;
using DuckDB.NET.Data;
using Freshet.Protos.Serving;
using Grpc.Net.Client;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Cli.Tests;

/// <summary>
/// Served-vector logging through <c>freshet serve</c> (docs/quality.md): at sample rate 1 every served value lands
/// in the Parquet log exactly as served; at 0 nothing is written.
/// </summary>
public sealed class FeatureLoggingServeTests : IDisposable
{
    private static readonly string[] Features = ["conv_rate", "acc_rate", "avg_daily_trips"];
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    private async Task<ServerProcess> ServeWith(string loggingYaml, bool grpc = false)
    {
        await _repo.InitQuickstart();
        File.AppendAllText(Path.Combine(_repo.Dir, "freshet.yaml"), loggingYaml);
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        var materialize = await _repo.Freshet("materialize-incremental", "2100-01-01");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        return await ServerProcess.StartAsync(_repo.Dir, grpc);
    }

    private static async Task<JsonNode> Read(ServerProcess server, int i)
    {
        var request = new JsonObject
        {
            ["features"] = new JsonArray([.. Features.Select(f => (JsonNode)$"driver_hourly_stats:{f}")]),
            ["entities"] = new JsonObject { ["driver_id"] = new JsonArray(1001, 1002 + (i % 3), 9999) },
        };
        var (status, body) = await server.PostAsync("/get-online-features", request.ToJsonString());
        Assert.True(status == 200, body?.ToJsonString());
        return body!;
    }

    [Fact]
    public async Task At_sample_rate_1_every_served_value_is_logged_as_served()
    {
        await using var server = await ServeWith("feature_logging:\n  sample_rate: 1.0\n  flush_interval: 500ms\n");
        const int Reads = 6;
        var served = new List<JsonNode>();
        for (var i = 0; i < Reads; i++)
        {
            served.Add(await Read(server, i));
        }

        var log = Path.Combine(_repo.Dir, "data", "feature_log");
        var expectedRows = Reads * 3 * Features.Length;
        var rows = await PollLog(log, expectedRows);
        Assert.Equal(expectedRows, rows.Count);
        Assert.Equal(Reads, rows.Select(r => r.RequestId).Distinct().Count());

        // Each request's rows hold exactly its served values and statuses, per entity row and feature.
        var byRequest = rows.GroupBy(r => r.RequestId).OrderBy(g => g.Min(r => r.ServedAt)).ToList();
        var expected = served.SelectMany(body => Enumerable.Range(0, 3).SelectMany(row => Features.Select((f, c) =>
        {
            var result = body["results"]![c + 1]!;
            var value = result["values"]![row];
            return (Entity: $"{{\"driver_id\":{body["results"]![0]!["values"]![row]}}}", Feature: f, Status: result["statuses"]![row]!.GetValue<string>(),
                Value: value is null ? (double?)null : f == "avg_daily_trips" ? value.GetValue<int>() : (double)value.GetValue<float>());
        }))).Order().ToList();
        var actual = rows.Select(r => (r.EntityKey, r.Feature, r.Status, r.Value)).Order().ToList();
        Assert.Equal(expected, actual);
        Assert.Contains(actual, r => r.Status == "NOT_FOUND" && r.Value is null);
        Assert.Contains(actual, r => r.Status == "PRESENT" && r.Value is not null);
        Assert.Empty(Directory.GetFiles(log, "*.tmp", SearchOption.AllDirectories));
        Assert.All(Directory.GetDirectories(log), d => Assert.Matches(@"date=\d{4}-\d{2}-\d{2}$", d));
    }

    [Fact]
    public async Task At_sample_rate_0_nothing_is_logged()
    {
        await using var server = await ServeWith("feature_logging:\n  sample_rate: 0\n  flush_interval: 100ms\n");
        for (var i = 0; i < 5; i++)
        {
            await Read(server, i);
        }

        // A rate of 0 starts no writer at all: after the reads and a few flush intervals there is no log directory.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(Directory.Exists(Path.Combine(_repo.Dir, "data", "feature_log")));
    }

    [Fact]
    public async Task Values_served_over_grpc_are_written_when_the_server_stops()
    {
        // No flush interval passes: the rows reach the disk only because SIGTERM stops the server and the log
        // writes what it holds.
        await using var server = await ServeWith("feature_logging:\n  sample_rate: 1\n  flush_interval: 1h\n", grpc: true);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}");
        var client = new ServingService.ServingServiceClient(channel);
        var expected = new List<(string, string, string, double?)>();
        for (var i = 0; i < 3; i++)
        {
            var request = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { Features.Select(f => $"driver_hourly_stats:{f}") } } };
            var keys = new Freshet.Protos.Types.RepeatedValue();
            keys.Val.Add(new ProtoValue { Int64Val = 1001 + i });
            keys.Val.Add(new ProtoValue { Int64Val = 9999 });
            request.Entities.Add("driver_id", keys);
            var response = await client.GetOnlineFeaturesAsync(request);
            for (var row = 0; row < 2; row++)
            {
                for (var c = 0; c < Features.Length; c++)
                {
                    var value = response.Results[c + 1].Values[row];
                    var present = response.Results[c + 1].Statuses[row] == FieldStatus.Present;
                    expected.Add(($"{{\"driver_id\":{response.Results[0].Values[row].Int64Val}}}", Features[c], present ? "PRESENT" : "NOT_FOUND",
                        !present ? null : c == 2 ? value.Int32Val : (double)value.FloatVal));
                }
            }
        }

        Assert.Contains(expected, e => e.Item3 == "PRESENT");
        var log = Path.Combine(_repo.Dir, "data", "feature_log");
        Assert.False(Directory.Exists(log) && Directory.GetFiles(log, "*.parquet", SearchOption.AllDirectories).Length > 0, "nothing should be flushed before the stop");
        using (var kill = Process.Start("kill", ["-TERM", server.Pid.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (IsRunning(server.Pid) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.False(IsRunning(server.Pid), "freshet serve did not stop within 60 s of SIGTERM");
        var rows = ReadLog(log);
        Assert.Equal(expected.Order().ToList(), rows.Select(r => (r.EntityKey, r.Feature, r.Status, r.Value)).Order().ToList());
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private sealed record LogRow(DateTime ServedAt, string RequestId, string EntityKey, string Feature, string Status, double? Value);

    /// <summary>Reads the log until it has <paramref name="expected"/> rows (or 120 s pass).</summary>
    private static async Task<List<LogRow>> PollLog(string log, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var rows = Directory.Exists(log) && Directory.GetFiles(log, "*.parquet", SearchOption.AllDirectories).Length > 0 ? ReadLog(log) : [];
            if (rows.Count >= expected || DateTime.UtcNow > deadline)
            {
                return rows;
            }

            await Task.Delay(200);
        }
    }

    private static List<LogRow> ReadLog(string log)
    {
        var rows = new List<LogRow>();
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT served_at, request_id, entity_key, feature, status, value_double FROM read_parquet('{Path.Combine(log, "**", "*.parquet").Replace("'", "''", StringComparison.Ordinal)}')";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add(new LogRow(Convert.ToDateTime(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetDouble(5)));
        }

        return rows;
    }
}
