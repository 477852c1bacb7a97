using System.Text.Json.Nodes;

namespace Freshet.Server.Tests;

public sealed class OnlineFeaturesHttpTests : IAsyncLifetime
{
    private readonly ServerFixture _f = new();

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    private const string Drivers = """
        {"feature_view_name": "driver_hourly_stats",
         "df": {"driver_id": [1001, 1002],
                "conv_rate": [0.7, 0.51],
                "acc_rate": [0.87, 0.11],
                "avg_daily_trips": [12, 7],
                "tags": [["a", "b"], []],
                "embedding": [[0.5, 1, -2.25], [0, 0, 0]],
                "photo": ["AQID", null],
                "last_seen": ["2025-12-31T23:30:00Z", "2025-12-31T23:45:00.123456+00:00"],
                "event_timestamp": ["2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"],
                "created": ["2025-12-31T23:00:01Z", "2026-01-01T00:00:01Z"]}}
        """;

    [Fact]
    public async Task A_feast_request_gets_a_feast_response()
    {
        var (status, written) = await _f.PostAsync("/write-to-online-store", Drivers);
        Assert.True(status == 200, written?.ToJsonString());
        Assert.Equal(2, written!["online_rows_applied"]!.GetValue<int>());

        var (code, body) = await _f.PostAsync("/get-online-features", """
            {"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"],
             "entities": {"driver_id": [1001, 1002, 1003]},
             "full_feature_names": false}
            """);

        Assert.Equal(200, code);
        Assert.Equal("""["driver_id","conv_rate","acc_rate","avg_daily_trips"]""", body!["metadata"]!["feature_names"]!.ToJsonString());
        var results = body["results"]!.AsArray();
        Assert.Equal(4, results.Count);
        Assert.Equal("[1001,1002,1003]", results[0]!["values"]!.ToJsonString());
        Assert.Equal("""["PRESENT","PRESENT","PRESENT"]""", results[0]!["statuses"]!.ToJsonString());
        Assert.Equal("""["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]""", results[0]!["event_timestamps"]!.ToJsonString());
        Assert.Equal("[0.7,0.51,null]", results[1]!["values"]!.ToJsonString());
        Assert.Equal("""["PRESENT","PRESENT","NOT_FOUND"]""", results[1]!["statuses"]!.ToJsonString());
        Assert.Equal("""["2025-12-31T23:00:00Z","2026-01-01T00:00:00Z","1970-01-01T00:00:00Z"]""", results[1]!["event_timestamps"]!.ToJsonString());
        Assert.Equal("[12,7,null]", results[3]!["values"]!.ToJsonString());
    }

    [Fact]
    public async Task Lists_vectors_bytes_and_timestamps_are_native_json()
    {
        await _f.PostAsync("/write-to-online-store", Drivers);

        var (code, body) = await _f.PostAsync("/get-online-features", """
            {"features": ["driver_hourly_stats:tags", "driver_hourly_stats:embedding", "driver_hourly_stats:photo", "driver_hourly_stats:last_seen"],
             "entities": {"driver_id": [1001, 1002]}}
            """);

        Assert.Equal(200, code);
        var r = body!["results"]!.AsArray();
        Assert.Equal("""[["a","b"],[]]""", r[1]!["values"]!.ToJsonString());
        Assert.Equal("[[0.5,1,-2.25],[0,0,0]]", r[2]!["values"]!.ToJsonString());
        Assert.Equal("""["AQID",null]""", r[3]!["values"]!.ToJsonString());
        Assert.Equal("""["PRESENT","NULL_VALUE"]""", r[3]!["statuses"]!.ToJsonString());
        Assert.Equal("""["2025-12-31T23:30:00Z","2025-12-31T23:45:00.123456Z"]""", r[4]!["values"]!.ToJsonString());
    }

    [Fact]
    public async Task A_feature_service_with_full_feature_names()
    {
        await _f.PostAsync("/write-to-online-store", Drivers);

        var (code, body) = await _f.PostAsync("/get-online-features", """
            {"feature_service": "driver_activity", "entities": {"driver_id": [1002]}, "full_feature_names": true}
            """);

        Assert.Equal(200, code);
        Assert.Equal("""["driver_id","driver_hourly_stats__conv_rate","driver_hourly_stats__acc_rate"]""", body!["metadata"]!["feature_names"]!.ToJsonString());
        Assert.Equal("[0.11]", body["results"]![2]!["values"]!.ToJsonString());
    }

    [Fact]
    public async Task Ttl_is_enforced_online()
    {
        await _f.PostAsync("/write-to-online-store", Drivers);
        _f.Clock.Now = ServerFixture.T0.AddDays(1);

        var (_, body) = await _f.PostAsync("/get-online-features", """
            {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001, 1002]}}
            """);

        // 1001's row is from 23:00 the day before: more than a day old. 1002's is exactly within.
        Assert.Equal("""["OUTSIDE_MAX_AGE","PRESENT"]""", body!["results"]![1]!["statuses"]!.ToJsonString());
        Assert.Equal("[null,0.51]", body["results"]![1]!["values"]!.ToJsonString());
    }

    [Fact]
    public async Task Push_writes_to_the_views_of_the_push_source_and_older_rows_lose()
    {
        var (status, pushed) = await _f.PostAsync("/push", """
            {"push_source_name": "rider_push", "df": {"rider_id": ["r1", "r2"], "city": ["oslo", "lima"], "ts": ["2026-01-01T00:10:00Z", "2026-01-01T00:10:00Z"]}, "to": "online"}
            """);
        Assert.True(status == 200, pushed?.ToJsonString());
        Assert.Equal("""["rider_stats"]""", pushed!["views"]!.ToJsonString());

        await _f.PostAsync("/push", """
            {"push_source_name": "rider_push", "df": {"rider_id": ["r1"], "city": ["old"], "ts": ["2026-01-01T00:00:00Z"]}}
            """);

        var (_, body) = await _f.PostAsync("/get-online-features", """
            {"features": ["rider_stats:city"], "entities": {"rider_id": ["r1", "r2"]}}
            """);
        Assert.Equal("""["oslo","lima"]""", body!["results"]![1]!["values"]!.ToJsonString());
    }

    [Fact]
    public async Task An_apply_while_serving_takes_effect_without_a_restart()
    {
        var (before, _) = await _f.PostAsync("/get-online-features", """{"features": ["rider_stats:rating"], "entities": {"rider_id": ["r1"]}}""");
        Assert.Equal(400, before);

        await _f.ApplyAsync(ServerFixture.Repo(withRating: true));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        int status;
        do
        {
            await Task.Delay(50);
            (status, _) = await _f.PostAsync("/get-online-features", """{"features": ["rider_stats:rating"], "entities": {"rider_id": ["r1"]}}""");
        }
        while (status != 200 && DateTime.UtcNow < deadline);

        Assert.Equal(200, status);
        var health = await _f.GetJsonAsync("/health");
        Assert.Equal(2, health!["registry_version"]!.GetValue<long>());
    }

    [Fact]
    public async Task Health_says_ok()
    {
        var health = await _f.GetJsonAsync("/health");

        Assert.Equal("ok", health!["status"]!.GetValue<string>());
    }

    internal static JsonNode Parse(string s) => JsonNode.Parse(s)!;
}
