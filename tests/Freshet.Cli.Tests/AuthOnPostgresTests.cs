using System.Text.RegularExpressions;
using Freshet.Postgres.Tests;

namespace Freshet.Cli.Tests;

/// <summary>With <c>registry: postgres</c>, keys live in PostgreSQL: made by the CLI, followed by a running server, no key file.</summary>
public sealed partial class AuthOnPostgresTests(PostgresServer server) : IClassFixture<PostgresServer>, IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [GeneratedRegex(@"^fsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$", RegexOptions.Multiline)]
    private static partial Regex KeyLine();

    [Fact]
    public async Task Keys_made_next_to_a_postgres_registry_are_shared_and_followed_by_serve()
    {
        await _repo.InitQuickstart();
        var yaml = _repo.Read("freshet.yaml");
        var changed = Regex.Replace(yaml, @"registry:\n  type: file[^\n]*\n", $"registry:\n  type: postgres\n  connection_string: \"{server.CreateDatabase()}\"\n")
            .Replace("enabled: false", "enabled: true", StringComparison.Ordinal);
        Assert.NotEqual(yaml, changed);
        _repo.Write("freshet.yaml", changed);
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);

        var created = await _repo.Freshet("auth", "create-key", "--name", "model", "--grant", "read_online:driver_*");
        Assert.True(created.ExitCode == 0, created.ToString());
        var key = KeyLine().Match(created.Out).Value;
        Assert.NotEmpty(key);
        Assert.False(File.Exists(Path.Combine(_repo.Dir, "data", "auth", "keys.json")), "keys were written to a file although the registry is in PostgreSQL");
        Assert.Contains("model", (await _repo.Freshet("auth", "list")).Out, StringComparison.Ordinal);

        await using var serve = await ServerProcess.StartAsync(_repo.Dir);
        const string Read = """{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}""";
        Assert.Equal(401, (await serve.PostAsync("/get-online-features", Read)).Status);
        Assert.Equal(200, await ReadAsync(serve, Read, key));

        Assert.Equal(0, (await _repo.Freshet("auth", "revoke", "model")).ExitCode);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var status = await ReadAsync(serve, Read, key);
        while (status != 401 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            status = await ReadAsync(serve, Read, key);
        }

        Assert.Equal(401, status);
    }

    private static async Task<int> ReadAsync(ServerProcess server, string json, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/get-online-features") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("X-API-Key", key);
        using var response = await server.Http.SendAsync(request);
        return (int)response.StatusCode;
    }
}
