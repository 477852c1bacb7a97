using StackExchange.Redis;

namespace Freshet.Conformance.Tests;

/// <summary>An embedded Garnet server (Lua on, scripts run as transactions) on 127.0.0.1, for a test collection.</summary>
public sealed class GarnetFixture : IAsyncLifetime
{
    private Garnet.GarnetServer? _server;
    private ConnectionMultiplexer? _connection;

    public int Port { get; private set; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public ConnectionMultiplexer Connection => _connection ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        Port = RedisServers.FreePort();
        _server = new Garnet.GarnetServer(
            ["--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--lua", "--lua-transaction-mode",
             "--memory", "256m", "--index", "16m", "--page", "1m"]);
        _server.Start();
        _connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.CloseAsync();
            _connection.Dispose();
        }

        _server?.Dispose();
    }
}

[CollectionDefinition("garnet")]
public sealed class GarnetCollection : ICollectionFixture<GarnetFixture>;
