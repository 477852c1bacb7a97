using System.Text;

namespace Freshet.Server.Tests;

/// <summary>Every kind of bad input gets a 4xx whose JSON names the field and the problem; never a 500.</summary>
public sealed class BadInputHttpTests(ServerFixture f) : IClassFixture<ServerFixture>
{
    [Theory]
    [InlineData("""{"features": ["nope:conv_rate"], "entities": {"driver_id": [1]}}""", 400, "unknown_view", "features[0]")]
    [InlineData("""{"features": ["driver_hourly_stats:nope"], "entities": {"driver_id": [1]}}""", 400, "unknown_feature", "features[0]")]
    [InlineData("""{"feature_service": "nope", "entities": {"driver_id": [1]}}""", 400, "unknown_feature_service", "feature_service")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"rider_id": ["x"]}}""", 400, "missing_join_key", "entities")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1, 2], "val": [1]}}""", 400, "mismatched_lengths", "entities.val")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": ["abc"]}}""", 400, "wrong_type", "entities.driver_id[0]")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1.5]}}""", 400, "wrong_type", "entities.driver_id[0]")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [99999999999999999999999]}}""", 400, "wrong_type", "entities.driver_id[0]")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [null]}}""", 400, "null_join_key", "entities.driver_id[0]")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": 1}}""", 400, "wrong_type", "entities.driver_id")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [{"a": 1}]}}""", 400, "wrong_type", "entities.driver_id[0]")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [[1, "a"]]}}""", 400, "mixed_list", "entities.driver_id[0]")]
    [InlineData("""{"features": "driver_hourly_stats:conv_rate", "entities": {"driver_id": [1]}}""", 400, "wrong_type", "features")]
    [InlineData("""{"features": [1], "entities": {"driver_id": [1]}}""", 400, "wrong_type", "features[0]")]
    [InlineData("""{"features": [], "entities": {"driver_id": [1]}}""", 400, "no_features", "features")]
    [InlineData("""{"entities": {"driver_id": [1]}}""", 400, "no_features", "features")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "feature_service": "driver_activity", "entities": {}}""", 400, "ambiguous_request", "features")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entites": {}}""", 400, "unknown_field", "entites")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1]}, "full_feature_names": "yes"}""", 400, "wrong_type", "full_feature_names")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1]}}""", 400, "duplicate_feature", "features[1]")]
    [InlineData("""[1, 2]""", 400, "bad_json", "body")]
    [InlineData("""{"features": ["a:b"]""", 400, "bad_json", "body")]
    [InlineData("""{"features": ["a:b"]} trailing""", 400, "bad_json", "body")]
    [InlineData("", 400, "empty_body", "body")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"rider_id": ["\ud800"]}}""", 400, "bad_escape", "entities.rider_id[0]")]
    [InlineData("""{"features": ["\udc00x"], "entities": {"driver_id": [1]}}""", 400, "bad_escape", "features[0]")]
    [InlineData("""{"feature_service": "a\ud83d", "entities": {"driver_id": [1]}}""", 400, "bad_escape", "feature_service")]
    [InlineData("""{"\ud800": 1}""", 400, "bad_escape", "body")]
    [InlineData("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"\udfff": [1]}}""", 400, "bad_escape", "entities")]
    public async Task Bad_get_online_features_requests_get_a_4xx_naming_the_field(string json, int status, string code, string field)
    {
        var (actual, body) = await f.PostAsync("/get-online-features", json);

        Assert.True(actual == status, body?.ToJsonString());
        Assert.Equal(code, body!["code"]!.GetValue<string>());
        Assert.Equal(field, body["field"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(body["message"]!.GetValue<string>()));
        Assert.Equal(body["message"]!.GetValue<string>(), body["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/push", """{"push_source_name": "nope", "df": {"a": [1]}}""", "unknown_push_source", "push_source_name")]
    [InlineData("/push", """{"push_source_name": "driver_stats_push", "df": {"driver_id": [1]}}""", "missing_column", "df.conv_rate")]
    [InlineData("/push", """{"push_source_name": "rider_push", "df": {"rider_id": ["a"], "city": ["x"], "ts": ["not a time"]}}""", "wrong_type", "df.ts[0]")]
    [InlineData("/push", """{"push_source_name": "rider_push", "df": {"rider_id": ["a"], "city": [5], "ts": ["2026-01-01T00:00:00Z"]}}""", "wrong_type", "df.city[0]")]
    [InlineData("/push", """{"push_source_name": "rider_push", "df": {"rider_id": ["a", "b"], "city": ["x"], "ts": ["2026-01-01T00:00:00Z"]}}""", "mismatched_lengths", "df")]
    [InlineData("/push", """{"push_source_name": "rider_push", "df": {"rider_id": ["a"], "city": ["x"], "ts": ["2026-01-01T00:00:00Z"]}, "to": "elsewhere"}""", "bad_value", "to")]
    [InlineData("/push", """{"push_source_name": "rider_push", "df": {"rider_id": ["a"], "city": ["x"], "ts": ["2026-01-01T00:00:00Z"]}, "to": "offline"}""", "offline_unavailable", "to")]
    [InlineData("/push", """{"df": {}}""", "missing_field", "push_source_name")]
    [InlineData("/write-to-online-store", """{"feature_view_name": "nope", "df": {"a": [1]}}""", "unknown_view", "feature_view_name")]
    [InlineData("/write-to-online-store", """{"feature_view_name": "driver_hourly_stats", "df": {"driver_id": [1], "conv_rate": [1], "acc_rate": [1], "avg_daily_trips": [1], "tags": [[]], "embedding": [[1, 2]], "photo": [null], "last_seen": [null], "event_timestamp": ["2026-01-01T00:00:00Z"]}}""", "wrong_type", "df.embedding[0]")]
    [InlineData("/write-to-online-store", """{"feature_view_name": "driver_hourly_stats", "df": {"driver_id": [1], "conv_rate": [1], "acc_rate": [1], "avg_daily_trips": [3000000000], "tags": [[]], "embedding": [[1, 2, 3]], "photo": [null], "last_seen": [null], "event_timestamp": ["2026-01-01T00:00:00Z"]}}""", "wrong_type", "df.avg_daily_trips[0]")]
    [InlineData("/write-to-online-store", """{"feature_view_name": "driver_hourly_stats", "df": {"driver_id": [1], "conv_rate": [1], "acc_rate": [1], "avg_daily_trips": [1], "tags": [[]], "embedding": [[1, 2, 3]], "photo": ["%%%"], "last_seen": [null], "event_timestamp": ["2026-01-01T00:00:00Z"]}}""", "wrong_type", "df.photo[0]")]
    [InlineData("/materialize", """{"end_ts": "2026-01-01T00:00:00Z"}""", "missing_field", "start_ts")]
    [InlineData("/materialize", """{"start_ts": "yesterday", "end_ts": "2026-01-01T00:00:00Z"}""", "wrong_type", "start_ts")]
    [InlineData("/materialize-incremental", """{"end_ts": "2026-01-01T00:00:00Z", "feature_views": [5]}""", "wrong_type", "feature_views[0]")]
    [InlineData("/materialize", """{"start_ts": "\ud800", "end_ts": "2026-01-01T00:00:00Z"}""", "bad_escape", "start_ts")]
    [InlineData("/push", """{"push_source_name": "rider_push", "df": {"rider_id": ["\udc00"], "city": ["x"], "ts": ["2026-01-01T00:00:00Z"]}}""", "bad_escape", "df.rider_id[0]")]
    [InlineData("/write-to-online-store", """{"feature_view_name": "\ud800\ud800", "df": {}}""", "bad_escape", "feature_view_name")]
    public async Task Bad_writes_get_a_4xx_naming_the_field(string path, string json, string code, string field)
    {
        var (status, body) = await f.PostAsync(path, json);

        Assert.True(status == 400, body?.ToJsonString());
        Assert.Equal(code, body!["code"]!.GetValue<string>());
        Assert.Equal(field, body["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Too_many_entity_rows_is_413()
    {
        var ids = string.Join(",", Enumerable.Range(0, 1001));
        var (status, body) = await f.PostAsync("/get-online-features", $$$"""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [{{{ids}}}]}}""");

        Assert.Equal(413, status);
        Assert.Equal("too_many_rows", body!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413()
    {
        var big = new string('1', 1024 * 1024 + 10);
        var (status, body) = await f.PostAsync("/get-online-features", $$$"""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [{{{big}}}]}}""");

        Assert.Equal(413, status);
        Assert.Equal("body_too_large", body!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Deep_nesting_is_400()
    {
        var deep = new string('[', 5000) + new string(']', 5000);
        var (status, body) = await f.PostAsync("/get-online-features", $$$"""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": {{{deep}}}}""");

        Assert.Equal(400, status);
        Assert.NotNull(body!["code"]);
    }

    [Fact]
    public async Task Invalid_utf8_is_400()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"features": ["driver_hourly_stats:conv_rate"], "entities": {"rider_id": ["X"]}}""");
        var at = Array.IndexOf(bytes, (byte)'X');
        bytes[at] = 0xC3;

        var (status, body) = await f.PostBytesAsync("/get-online-features", bytes);

        Assert.Equal(400, status);
        Assert.Contains(body!["code"]!.GetValue<string>(), new[] { "bad_json", "bad_utf8" });
    }

    [Theory]
    [InlineData("GET", "/no-such-path", 404, "not_found", "path")]
    [InlineData("POST", "/get-online-features/x", 404, "not_found", "path")]
    [InlineData("GET", "/get-online-features", 405, "method_not_allowed", "method")]
    [InlineData("DELETE", "/push", 405, "method_not_allowed", "method")]
    [InlineData("POST", "/health", 405, "method_not_allowed", "method")]
    [InlineData("PUT", "/freshness", 405, "method_not_allowed", "method")]
    public async Task Unknown_paths_and_wrong_methods_get_a_json_error(string method, string path, int status, string code, string field)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent("{}") };
        using var response = await f.Http.SendAsync(request);
        var body = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, body["code"]!.GetValue<string>());
        Assert.Equal(field, body["field"]!.GetValue<string>());
        Assert.Contains(path, body["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_still_answers_after_bad_input()
    {
        for (var i = 0; i < 50; i++)
        {
            await f.PostAsync("/get-online-features", "{\"features\": [" + new string('"', i));
        }

        var health = await f.GetJsonAsync("/health");
        Assert.Equal("ok", health!["status"]!.GetValue<string>());
    }
}
