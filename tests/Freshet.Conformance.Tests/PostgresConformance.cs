using Freshet.Conformance.Tests;
using Freshet.Online;
using Freshet.Registry;

namespace Freshet.Postgres.Tests;

/// <summary>The PostgreSQL registry store against the contract; one server per class, a new database per test.</summary>
public sealed class PostgresRegistryStoreConformance(PostgresServer server) : RegistryStoreConformance, IClassFixture<PostgresServer>
{
    private readonly List<PostgresRegistryStore> _opened = [];
    private string? _connectionString;

    protected override Task<IRegistryStore> CreateStoreAsync()
    {
        _connectionString = server.CreateDatabase();
        return Task.FromResult(OpenAgain());
    }

    protected override IRegistryStore OpenAgain()
    {
        var store = new PostgresRegistryStore(_connectionString!, "conformance");
        lock (_opened)
        {
            _opened.Add(store);
        }

        return store;
    }

    public override async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }
    }
}

/// <summary>The PostgreSQL online store against the contract; one server per class, a new database per test.</summary>
public sealed class PostgresOnlineStoreConformance(PostgresServer server) : OnlineStoreConformance, IClassFixture<PostgresServer>
{
    protected override IOnlineStore CreateStore() => new PostgresOnlineStore(server.CreateDatabase());
}

/// <summary>Dead letters over the PostgreSQL online store; one server per class, a new database per test.</summary>
public sealed class PostgresDeadLetterStoreConformance(PostgresServer server) : DeadLetterStoreConformance, IClassFixture<PostgresServer>
{
    protected override IOnlineStore CreateStore() => new PostgresOnlineStore(server.CreateDatabase());
}
