using Freshet.Security;

namespace Freshet.Postgres.Tests;

/// <summary>The contract of a key store: changes are versioned, refused changes change nothing, the change token moves, a second handle sees the same keys.</summary>
public abstract class ApiKeyStoreConformance
{
    protected abstract IApiKeyStore Create();

    protected abstract IApiKeyStore OpenAgain();

    private static ApiKey Key(string name, string id) => new()
    {
        Id = id,
        Name = name,
        Hash = ApiKeySecret.Hash($"fsk_{id}_secret"),
        CreatedAt = DateTimeOffset.UnixEpoch,
        CreatedBy = "test",
        Grants = ["read_online:*"],
    };

    [Fact]
    public async Task Keys_are_added_revoked_and_seen_by_another_handle()
    {
        var store = Create();
        Assert.Empty((await store.LoadAsync()).Keys);
        var before = await store.ChangeTokenAsync();

        var now = DateTimeOffset.UtcNow;
        await store.UpdateAsync(ApiKeyChanges.Add(Key("a", "00000000000a"), now));
        var after = await store.ChangeTokenAsync();
        Assert.NotEqual(before, after);

        var again = OpenAgain();
        var set = await again.LoadAsync();
        Assert.Equal(1, set.Version);
        var key = Assert.Single(set.Keys);
        Assert.Equal("a", key.Name);
        Assert.Equal(["read_online:*"], key.Grants);

        await again.UpdateAsync(ApiKeyChanges.Revoke("a", "ops", now));
        Assert.NotEqual(after, await store.ChangeTokenAsync());
        var revoked = Assert.Single((await store.LoadAsync()).Keys);
        Assert.NotNull(revoked.RevokedAt);
        Assert.Equal("ops", revoked.RevokedBy);
        Assert.False(revoked.IsActive(now));
    }

    [Fact]
    public async Task A_refused_change_changes_nothing()
    {
        var store = Create();
        var now = DateTimeOffset.UtcNow;
        await store.UpdateAsync(ApiKeyChanges.Add(Key("a", "00000000000a"), now));
        var token = await store.ChangeTokenAsync();

        await Assert.ThrowsAsync<ApiKeyStoreException>(async () => await store.UpdateAsync(ApiKeyChanges.Add(Key("a", "00000000000b"), now)));
        await Assert.ThrowsAsync<ApiKeyStoreException>(async () => await store.UpdateAsync(ApiKeyChanges.Revoke("nobody", "ops", now)));

        Assert.Equal(token, await store.ChangeTokenAsync());
        var set = await store.LoadAsync();
        Assert.Equal(1, set.Version);
        Assert.Single(set.Keys);
    }

    [Fact]
    public async Task Concurrent_changes_are_all_kept()
    {
        var store = Create();
        var now = DateTimeOffset.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
            await OpenAgain().UpdateAsync(ApiKeyChanges.Add(Key($"k{i}", $"00000000000{i}"), now)))));

        var set = await store.LoadAsync();
        Assert.Equal(8, set.Version);
        Assert.Equal(8, set.Keys.Count);
    }
}

public sealed class FileApiKeyStoreConformance : ApiKeyStoreConformance, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("freshet-keys-").FullName;

    protected override IApiKeyStore Create() => OpenAgain();

    protected override IApiKeyStore OpenAgain() => new FileApiKeyStore(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

public sealed class PostgresApiKeyStoreConformance(PostgresServer server) : ApiKeyStoreConformance, IClassFixture<PostgresServer>, IAsyncLifetime
{
    private readonly List<PostgresApiKeyStore> _opened = [];
    private string? _connectionString;

    protected override IApiKeyStore Create()
    {
        _connectionString = server.CreateDatabase();
        return OpenAgain();
    }

    protected override IApiKeyStore OpenAgain()
    {
        var store = new PostgresApiKeyStore(_connectionString!, "conformance");
        lock (_opened)
        {
            _opened.Add(store);
        }

        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }
    }
}
