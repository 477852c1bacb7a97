using System.Text.Json.Nodes;
using Freshet.Security;

namespace Freshet.Server.Tests;

/// <summary>How grants match (patterns, tags, services), how keys travel, and that a running server follows the key store.</summary>
public sealed class AuthRulesTests(AuthServerFixture f) : IClassFixture<AuthServerFixture>
{
    private Task<(int Status, string Body, HttpResponseMessage Response)> ReadAsync(string body, string? key, string header = "Authorization") =>
        f.SendAsync(HttpMethod.Post, "/get-online-features", body, r =>
        {
            if (key is not null)
            {
                r.Headers.TryAddWithoutValidation(header, header == "Authorization" ? $"Bearer {key}" : key);
            }
        });

    [Fact]
    public async Task A_tag_scoped_grant_allows_the_team_s_views_and_refuses_the_others()
    {
        var ops = f.Key("ops");
        var (mine, _, r1) = await f.SendAsync(HttpMethod.Post, "/push", """{"push_source_name": "driver_push", "df": {"driver_id": [9], "trips": [1], "ts": ["2026-01-01T00:00:00Z"]}}""", r => r.Headers.Add("X-API-Key", ops));
        var (theirs, body, r2) = await f.SendAsync(HttpMethod.Post, "/push", """{"push_source_name": "rider_push", "df": {"rider_id": ["a"], "city": ["x"], "ts": ["2026-01-01T00:00:00Z"]}}""", r => r.Headers.Add("X-API-Key", ops));
        r1.Dispose();
        r2.Dispose();

        Assert.Equal(200, mine);
        Assert.Equal(403, theirs);
        Assert.Contains("key 'ops' may not write_online push_source 'rider_push'", (string)JsonNode.Parse(body)!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_grant_on_a_service_covers_its_views_but_not_a_direct_read_of_them()
    {
        var key = f.Key("service_reader");
        var (viaService, _, a) = await ReadAsync("""{"feature_service": "driver_service", "entities": {"driver_id": [1]}}""", key);
        var (direct, body, b) = await ReadAsync("""{"features": ["driver_stats:trips"], "entities": {"driver_id": [1]}}""", key);
        var (otherService, _, c) = await ReadAsync("""{"feature_service": "mixed_service", "entities": {"driver_id": [1], "rider_id": ["a"]}}""", key);
        a.Dispose();
        b.Dispose();
        c.Dispose();

        Assert.Equal(200, viaService);
        Assert.Equal(403, direct);
        Assert.Contains("feature_view 'driver_stats'", (string)JsonNode.Parse(body)!["message"]!, StringComparison.Ordinal);
        Assert.Equal(403, otherService);
    }

    [Fact]
    public async Task Every_view_of_a_read_must_be_allowed()
    {
        var (status, body, r) = await ReadAsync("""{"features": ["driver_stats:trips", "rider_stats:city"], "entities": {"driver_id": [1], "rider_id": ["a"]}}""", f.Key("driver_reader"));
        r.Dispose();
        Assert.Equal(403, status);
        Assert.Contains("rider_stats", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unauthenticated_request_gets_401_before_its_body_is_read()
    {
        var (status, body, r) = await ReadAsync("{ this is not json", null);
        var (wrong, _, w) = await ReadAsync("{ this is not json", "not-a-freshet-key");
        var (bad, badBody, b) = await ReadAsync("{ this is not json", f.Key("driver_reader"));
        r.Dispose();
        w.Dispose();
        b.Dispose();

        Assert.Equal(401, status);
        Assert.Contains("Authorization: Bearer KEY", body, StringComparison.Ordinal);
        Assert.Equal(401, wrong);
        Assert.Equal(400, bad);
        Assert.Equal("bad_json", (string)JsonNode.Parse(badBody)!["code"]!);
    }

    [Fact]
    public async Task Health_is_open_to_probes()
    {
        var (status, _, r) = await f.SendAsync(HttpMethod.Get, "/health", null, null);
        r.Dispose();
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task A_key_made_or_revoked_while_the_server_runs_takes_effect_without_a_restart()
    {
        var key = await f.AddAsync("late_comer", ["read_online:*"]);
        const string Read = """{"features": ["driver_stats:trips"], "entities": {"driver_id": [1]}}""";
        Assert.Equal(200, await PollAsync(async () => (await ReadAsync(Read, key)).Status, 200));

        await f.Keys.UpdateAsync(ApiKeyChanges.Revoke("late_comer", "test", DateTimeOffset.UtcNow));
        Assert.Equal(401, await PollAsync(async () => (await ReadAsync(Read, key)).Status, 401));
    }

    [Fact]
    public async Task The_key_file_holds_hashes_never_keys()
    {
        var text = await File.ReadAllTextAsync(f.Keys.FilePath);
        foreach (var name in new[] { "admin", "ops", "driver_reader", "writer" })
        {
            var key = f.Key(name);
            Assert.DoesNotContain(key, text, StringComparison.Ordinal);
            Assert.DoesNotContain(key[^43..], text, StringComparison.Ordinal);
            Assert.Contains(ApiKeySecret.Hash(key), text, StringComparison.Ordinal);
        }
    }

    /// <summary>Asks until the answer is <paramref name="wanted"/> or 60 s pass; returns the last answer.</summary>
    private static async Task<int> PollAsync(Func<Task<int>> ask, int wanted)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var last = await ask();
        while (last != wanted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            last = await ask();
        }

        return last;
    }
}
