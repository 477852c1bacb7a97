using Freshet.Protos.Serving;
using Freshet.Protos.Types;
using Grpc.Core;
using Grpc.Net.Client;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Tests;

public sealed class GrpcServingTests : IAsyncLifetime
{
    private readonly ServerFixture _f = new();
    private GrpcChannel _channel = null!;
    private ServingService.ServingServiceClient _client = null!;

    public async Task InitializeAsync()
    {
        await _f.InitializeAsync();
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_f.Server.GrpcPort}");
        _client = new ServingService.ServingServiceClient(_channel);
        var (status, body) = await _f.PostAsync("/write-to-online-store", """
            {"feature_view_name": "driver_hourly_stats",
             "df": {"driver_id": [1001], "conv_rate": [0.7], "acc_rate": [0.87], "avg_daily_trips": [12],
                    "tags": [["a"]], "embedding": [[1, 2, 3]], "photo": ["AQID"], "last_seen": ["2025-12-31T23:30:00Z"],
                    "event_timestamp": ["2025-12-31T23:00:00Z"], "created": ["2025-12-31T23:00:01Z"]}}
            """);
        Assert.True(status == 200, body?.ToJsonString());
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _f.DisposeAsync();
    }

    private static RepeatedValue Int64s(params long[] values)
    {
        var r = new RepeatedValue();
        r.Val.AddRange(values.Select(v => new ProtoValue { Int64Val = v }));
        return r;
    }

    [Fact]
    public async Task GetOnlineFeatures_answers_with_feast_messages()
    {
        var request = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:tags", "driver_hourly_stats:last_seen" } } };
        request.Entities.Add("driver_id", Int64s(1001, 1003));

        var response = await _client.GetOnlineFeaturesAsync(request);

        Assert.Equal(["driver_id", "conv_rate", "avg_daily_trips", "tags", "last_seen"], response.Metadata.FeatureNames.Val);
        Assert.Equal(5, response.Results.Count);
        Assert.Equal(1001, response.Results[0].Values[0].Int64Val);
        Assert.Equal(0.7f, response.Results[1].Values[0].FloatVal);
        Assert.Equal(FieldStatus.Present, response.Results[1].Statuses[0]);
        Assert.Equal(FieldStatus.NotFound, response.Results[1].Statuses[1]);
        Assert.Equal(ProtoValue.ValOneofCase.NullVal, response.Results[1].Values[1].ValCase);
        Assert.Equal(12, response.Results[2].Values[0].Int32Val);
        Assert.Equal(["a"], response.Results[3].Values[0].StringListVal.Val);
        Assert.Equal(new DateTimeOffset(2025, 12, 31, 23, 30, 0, TimeSpan.Zero).ToUnixTimeSeconds(), response.Results[4].Values[0].UnixTimestampVal);
        Assert.Equal(new DateTimeOffset(2025, 12, 31, 23, 0, 0, TimeSpan.Zero), response.Results[1].EventTimestamps[0].ToDateTimeOffset());
        Assert.Equal(0, response.Results[1].EventTimestamps[1].Seconds);
    }

    [Fact]
    public async Task A_feature_service_works_over_grpc()
    {
        var request = new GetOnlineFeaturesRequest { FeatureService = "driver_activity", FullFeatureNames = true };
        request.Entities.Add("driver_id", Int64s(1001));

        var response = await _client.GetOnlineFeaturesAsync(request);

        Assert.Equal(["driver_id", "driver_hourly_stats__conv_rate", "driver_hourly_stats__acc_rate"], response.Metadata.FeatureNames.Val);
        Assert.Equal(0.87f, response.Results[2].Values[0].FloatVal);
    }

    [Fact]
    public async Task Bad_requests_are_invalid_argument_or_not_found()
    {
        var unknown = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "nope:x" } } };
        unknown.Entities.Add("driver_id", Int64s(1));
        var e1 = await Assert.ThrowsAsync<RpcException>(async () => await _client.GetOnlineFeaturesAsync(unknown));
        Assert.Equal(StatusCode.NotFound, e1.StatusCode);
        Assert.Contains("unknown feature view 'nope'", e1.Status.Detail, StringComparison.Ordinal);

        var missing = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "driver_hourly_stats:conv_rate" } } };
        var e2 = await Assert.ThrowsAsync<RpcException>(async () => await _client.GetOnlineFeaturesAsync(missing));
        Assert.Equal(StatusCode.InvalidArgument, e2.StatusCode);
        Assert.Contains("missing join key 'driver_id'", e2.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetFeastServingInfo_names_freshet()
    {
        var info = await _client.GetFeastServingInfoAsync(new GetFeastServingInfoRequest());

        Assert.StartsWith("freshet-", info.Version, StringComparison.Ordinal);
    }
}
