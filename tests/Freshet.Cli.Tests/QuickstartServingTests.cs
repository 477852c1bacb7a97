using System.Text.Json.Nodes;
using DuckDB.NET.Data;
using Freshet.Protos.Serving;
using Grpc.Net.Client;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Cli.Tests;

/// <summary>
/// The main job end to end, as a Feast user runs it: init the quickstart, apply, materialize its Parquet file
/// into the embedded store, serve, and read with Feast's JSON and gRPC requests. The expected values are
/// computed here from the Parquet file, independently of Freshet's offline engine.
/// </summary>
public sealed class QuickstartServingTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    internal sealed record DriverRow(long DriverId, DateTimeOffset EventTimestamp, DateTimeOffset Created, float ConvRate, float AccRate, int AvgDailyTrips);

    /// <summary>Every row of the file, read plainly; the latest per driver is picked in LINQ.</summary>
    internal static Dictionary<long, DriverRow> LatestPerDriver(string parquet)
    {
        var rows = new List<DriverRow>();
        using (var connection = new DuckDBConnection("Data Source=:memory:"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT driver_id, epoch_us(event_timestamp), epoch_us(created), conv_rate, acc_rate, avg_daily_trips FROM read_parquet('{parquet.Replace("'", "''", StringComparison.Ordinal)}')";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new DriverRow(reader.GetInt64(0), DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64(1) * 10), DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64(2) * 10),
                    reader.GetFloat(3), reader.GetFloat(4), reader.GetInt32(5)));
            }
        }

        Assert.True(rows.Count > 1000, $"the quickstart file has only {rows.Count} rows");
        return rows.GroupBy(r => r.DriverId).ToDictionary(g => g.Key, g => g.OrderByDescending(r => r.EventTimestamp).ThenByDescending(r => r.Created).First());
    }

    [Fact]
    public async Task Materialized_quickstart_serves_the_latest_row_per_driver_over_http_and_grpc()
    {
        await _repo.InitQuickstart();
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        var expected = LatestPerDriver(Path.Combine(_repo.Dir, "data", "driver_stats.parquet"));

        var materialize = await _repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats", "--json");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        var done = Assert.Single(materialize.Json()["views"]!.AsArray())!;
        Assert.Equal(expected.Count, done["rows"]!.GetValue<long>());

        await using var server = await ServerProcess.StartAsync(_repo.Dir, grpc: true);
        var ids = expected.Keys.Order().ToList();
        var request = new JsonObject
        {
            ["features"] = new JsonArray("driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"),
            ["entities"] = new JsonObject { ["driver_id"] = new JsonArray([.. ids.Select(id => (JsonNode)id), 9999]) },
        };
        var (status, body) = await server.PostAsync("/get-online-features", request.ToJsonString());
        Assert.True(status == 200, body?.ToJsonString());

        Assert.Equal("""["driver_id","conv_rate","acc_rate","avg_daily_trips"]""", body!["metadata"]!["feature_names"]!.ToJsonString());
        var results = body["results"]!.AsArray();
        for (var i = 0; i < ids.Count; i++)
        {
            var row = expected[ids[i]];
            Assert.Equal(row.ConvRate, results[1]!["values"]![i]!.GetValue<float>());
            Assert.Equal(row.AccRate, results[2]!["values"]![i]!.GetValue<float>());
            Assert.Equal(row.AvgDailyTrips, results[3]!["values"]![i]!.GetValue<int>());
            Assert.Equal("PRESENT", results[1]!["statuses"]![i]!.GetValue<string>());
            Assert.Equal(row.EventTimestamp, DateTimeOffset.Parse(results[1]!["event_timestamps"]![i]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
        }

        // A driver the file does not have.
        Assert.Equal("NOT_FOUND", results[1]!["statuses"]![ids.Count]!.GetValue<string>());
        Assert.Null(results[1]!["values"]![ids.Count]);

        // The same through gRPC, with Feast's messages.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}");
        var client = new ServingService.ServingServiceClient(channel);
        var grpcRequest = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips" } } };
        var keys = new Freshet.Protos.Types.RepeatedValue();
        keys.Val.AddRange(ids.Select(id => new ProtoValue { Int64Val = id }));
        grpcRequest.Entities.Add("driver_id", keys);
        var response = await client.GetOnlineFeaturesAsync(grpcRequest);
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(expected[ids[i]].ConvRate, response.Results[1].Values[i].FloatVal);
            Assert.Equal(expected[ids[i]].AvgDailyTrips, response.Results[2].Values[i].Int32Val);
            Assert.Equal(FieldStatus.Present, response.Results[1].Statuses[i]);
        }
    }

    [Fact]
    public async Task The_feature_service_with_an_on_demand_feature_answers_with_request_inputs()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var expected = LatestPerDriver(Path.Combine(_repo.Dir, "data", "driver_stats.parquet"));
        var materialize = await _repo.Freshet("materialize-incremental", "2100-01-01");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());

        await using var server = await ServerProcess.StartAsync(_repo.Dir);
        var (status, body) = await server.PostAsync("/get-online-features", """
            {"feature_service": "driver_activity", "entities": {"driver_id": [1001, 1002], "val_to_add": [10, 20], "val_to_add_2": [1, 2]}}
            """);
        Assert.True(status == 200, body?.ToJsonString());

        var names = body!["metadata"]!["feature_names"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        var plus = names.IndexOf("conv_rate_plus_val1");
        Assert.True(plus > 0, string.Join(", ", names));
        var values = body["results"]![plus]!["values"]!.AsArray();
        Assert.Equal(expected[1001].ConvRate + 10.0, values[0]!.GetValue<double>(), 12);
        Assert.Equal(expected[1002].ConvRate + 20.0, values[1]!.GetValue<double>(), 12);
    }
}
