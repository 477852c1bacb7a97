using System.Text;
using Freshet.Governance;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Security;
using Freshet.Server.Governance;
using Freshet.Serving;

namespace Freshet.Server.Tests;

/// <summary>
/// With keys and the audit trail both on, the trail names who did what: the key's name for allowed and refused
/// requests, and an <c>authenticate</c> attempt for a request without a valid key (refused before its endpoint).
/// </summary>
public sealed class AuditOfAuthTests : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("freshet-audit-auth-").FullName;

    public ValueTask DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }

    private static async Task<string> AddKeyAsync(FileApiKeyStore keys, string name, string[] grants)
    {
        var (key, id) = ApiKeySecret.Generate();
        var now = DateTimeOffset.UtcNow;
        await keys.UpdateAsync(ApiKeyChanges.Add(new ApiKey { Id = id, Name = name, Hash = ApiKeySecret.Hash(key), CreatedAt = now, CreatedBy = "test", Grants = grants }, now));
        return key;
    }

    [Fact]
    public async Task Allowed_refused_and_unauthenticated_requests_are_recorded_with_the_caller()
    {
        var repo = AuthServerFixture.Repo();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", AuthServerFixture.T0), 0);
        await using var store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), repo.Config, _dir, new FeatureStoreOptions());
        var keys = new FileApiKeyStore(Path.Combine(_dir, "auth"));
        var writer = await AddKeyAsync(keys, "rider_writer", ["write_online:rider_*"]);
        var reader = await AddKeyAsync(keys, "rider_reader", ["read_online:rider_*"]);
        await using var log = new FileAuditLog(Path.Combine(_dir, "audit"));
        await using var server = await FreshetServer.StartAsync(store, new FreshetServerOptions
        {
            Port = 0,
            GrpcPort = -1,
            AuditLog = log,
            Auth = new ApiKeyAuthOptions(keys),
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };

        var push = $$$"""{"push_source_name": "rider_push", "df": {"rider_id": ["r1"], "city": ["Oslo"], "ts": ["{{{DateTimeOffset.UtcNow:O}}}"]}}""";
        async Task<int> PushAsync(string? key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/push") { Content = new StringContent(push, Encoding.UTF8, "application/json") };
            if (key is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}");
            }

            using var response = await http.SendAsync(request);
            return (int)response.StatusCode;
        }

        Assert.Equal(401, await PushAsync(null));
        Assert.Equal(401, await PushAsync("fsk_000000000000_not-a-key"));
        Assert.Equal(403, await PushAsync(reader));
        Assert.Equal(200, await PushAsync(writer));

        var records = new List<AuditRecord>();
        await foreach (var r in log.ReadAsync())
        {
            records.Add(r);
        }

        Assert.Equal(
            ["anonymous authenticate 401 /push", "anonymous authenticate 401 /push", "rider_reader write_online 403 /push", "rider_writer write_online 200 /push"],
            records.Select(r => $"{r.Entry.Actor} {r.Entry.Action} {r.Entry.Status} {Endpoint(r.Entry)}"));
        Assert.Contains(new AuditObject("feature_view", "rider_stats"), records[3].Entry.Objects);
        Assert.True((await log.VerifyAsync()).IsValid);
    }

    private static string Endpoint(AuditEntry entry) => entry.Details.TryGetValue("endpoint", out var e) ? e : "?";
}
