using System.Text.RegularExpressions;

namespace Freshet.Cli.Tests;

/// <summary><c>freshet auth</c>: keys made, listed and revoked from the command line, and a running server that follows them.</summary>
public sealed partial class AuthCommandTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    private string KeyFile => Path.Combine(_repo.Dir, "data", "auth", "keys.json");

    [GeneratedRegex(@"^fsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$", RegexOptions.Multiline)]
    private static partial Regex KeyLine();

    private async Task<string> CreateKeyAsync(params string[] args)
    {
        var r = await _repo.Freshet(["auth", "create-key", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return KeyLine().Match(r.Out).Value;
    }

    [Fact]
    public async Task Create_list_and_revoke_a_key_never_showing_or_storing_it()
    {
        await _repo.InitQuickstart();
        var key = await CreateKeyAsync("--name", "model", "--grant", "read_online:driver_*", "--grant", "describe:*[team=ops]", "--expires", "90d");
        Assert.NotEmpty(key);

        var list = await _repo.Freshet("auth", "list", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        var listed = Assert.Single(list.Json()["keys"]!.AsArray())!;
        Assert.Equal("model", (string)listed["name"]!);
        Assert.Equal("active", (string)listed["status"]!);
        Assert.Equal("""["read_online:driver_*","describe:*[team=ops]"]""", listed["grants"]!.ToJsonString());
        Assert.Equal(key[4..16], (string)listed["id"]!);
        var expires = DateTimeOffset.Parse((string)listed["expires_at"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromDays(89), TimeSpan.FromDays(90));
        Assert.DoesNotContain(key[17..], list.Out, StringComparison.Ordinal);
        var table = await _repo.Freshet("auth", "list");
        Assert.Contains("model", table.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(key[17..], table.Out, StringComparison.Ordinal);

        var stored = await File.ReadAllTextAsync(KeyFile);
        Assert.DoesNotContain(key[17..], stored, StringComparison.Ordinal);
        Assert.Contains(Freshet.Security.ApiKeySecret.Hash(key), stored, StringComparison.Ordinal);

        var revoke = await _repo.Freshet("auth", "revoke", "model");
        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        Assert.Empty((await _repo.Freshet("auth", "list", "--json")).Json()["keys"]!.AsArray());
        var all = (await _repo.Freshet("auth", "list", "--all", "--json")).Json()["keys"]!.AsArray();
        Assert.Equal("revoked", (string)Assert.Single(all)!["status"]!);

        // The name is free again once its key is revoked.
        Assert.NotEmpty(await CreateKeyAsync("--name", "model", "--grant", "read_online:*"));

        // Every key change is in the audit trail, by whom and which key, never the key itself.
        var tail = await _repo.Freshet("audit", "tail", "-n", "10", "--json");
        Assert.True(tail.ExitCode == 0, tail.ToString());
        var changes = tail.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!)
            .Where(r => ((string)r["action"]!).EndsWith("_key", StringComparison.Ordinal)).ToList();
        Assert.Equal(["create_key", "revoke_key", "create_key"], changes.Select(r => (string)r["action"]!));
        Assert.All(changes, r => Assert.Equal("""[{"kind":"api_key","name":"model"}]""", r["objects"]!.ToJsonString()));
        Assert.Equal(key[4..16], (string)changes[0]["details"]!["key_id"]!);
        Assert.Equal("read_online:driver_* describe:*[team=ops]", (string)changes[0]["details"]!["grants"]!);
        Assert.DoesNotContain(key[17..], tail.Out, StringComparison.Ordinal);
        Assert.Equal(0, (await _repo.Freshet("audit", "verify")).ExitCode);
    }

    [Theory]
    [InlineData("unknown action 'read'", "--name", "m", "--grant", "read:driver_*")]
    [InlineData("pattern 'driver stats' must be", "--name", "m", "--grant", "read_online:driver stats")]
    [InlineData("a grant is ACTION:PATTERN", "--name", "m", "--grant", "read_online")]
    [InlineData("--expires 'soon' must be a duration", "--name", "m", "--grant", "read_online:*", "--expires", "soon")]
    [InlineData("--name 'my key' is not a valid name", "--name", "my key", "--grant", "read_online:*")]
    public async Task A_bad_create_key_fails_with_a_clear_message_and_makes_nothing(string expected, params string[] args)
    {
        await _repo.InitQuickstart();
        var r = await _repo.Freshet(["auth", "create-key", .. args]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(KeyFile));
    }

    [Fact]
    public async Task A_duplicate_name_and_an_unknown_revoke_fail()
    {
        await _repo.InitQuickstart();
        await CreateKeyAsync("--name", "model", "--grant", "read_online:*");

        var twice = await _repo.Freshet("auth", "create-key", "--name", "model", "--grant", "write_online:*");
        Assert.Equal(1, twice.ExitCode);
        Assert.Contains("an active key is already named 'model'", twice.Err, StringComparison.Ordinal);

        var unknown = await _repo.Freshet("auth", "revoke", "nobody");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no key named 'nobody'", unknown.Err, StringComparison.Ordinal);
        Assert.Single((await _repo.Freshet("auth", "list", "--json")).Json()["keys"]!.AsArray());
    }

    [Fact]
    public async Task A_locked_down_serve_needs_a_key_and_refuses_a_key_revoked_while_it_runs()
    {
        await _repo.InitQuickstart();
        _repo.Edit("freshet.yaml", "enabled: false", "enabled: true");
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        Assert.Equal(0, (await _repo.Freshet("materialize-incremental", "2100-01-01")).ExitCode);
        var reader = await CreateKeyAsync("--name", "model", "--grant", "read_online:driver_activity");
        var pusher = await CreateKeyAsync("--name", "pusher", "--grant", "write_online:*");

        await using var server = await ServerProcess.StartAsync(_repo.Dir);
        Assert.DoesNotContain("auth is off", server.Errors, StringComparison.Ordinal);
        var request = """{"feature_service": "driver_activity", "entities": {"driver_id": [1001], "val_to_add": [1], "val_to_add_2": [10]}}""";
        Assert.Equal(401, (await server.PostAsync("/get-online-features", request)).Status);
        Assert.Equal(200, await ReadAsync(server, request, reader));
        Assert.Equal(403, await ReadAsync(server, request, pusher));

        var revoke = await _repo.Freshet("auth", "revoke", "model");
        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var status = await ReadAsync(server, request, reader);
        while (status != 401 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            status = await ReadAsync(server, request, reader);
        }

        Assert.Equal(401, status);
    }

    [Fact]
    public async Task Serving_with_auth_off_warns_at_start_up()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        await using var server = await ServerProcess.StartAsync(_repo.Dir);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!server.Errors.Contains("auth is off", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Contains("warning: auth is off", server.Errors, StringComparison.Ordinal);
        Assert.Equal(200, (int)(await server.Http.GetAsync("/freshness")).StatusCode);
    }

    private static async Task<int> ReadAsync(ServerProcess server, string json, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/get-online-features") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}");
        using var response = await server.Http.SendAsync(request);
        return (int)response.StatusCode;
    }
}
