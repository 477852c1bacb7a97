using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Freshet.Conformance.Tests;

/// <summary>
/// Starts and stops real <c>redis-server</c> processes on 127.0.0.1 with temporary directories, for the Redis
/// back end's tests (and, linked, the CLI's). Every process is killed by its PID.
/// </summary>
internal static class RedisServers
{
    private static readonly TimeSpan Ceiling = TimeSpan.FromSeconds(90);

    /// <summary>A TCP port free on 127.0.0.1 now (and, with <paramref name="busPort"/>, port + 10000 too, for a cluster bus).</summary>
    public static int FreePort(bool busPort = false)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Bind(0, out var listener);
            using (listener)
            {
                if (!busPort)
                {
                    return port;
                }

                if (port + 10000 > 65535)
                {
                    continue;
                }

                try
                {
                    Bind(port + 10000, out var bus);
                    bus.Stop();
                    return port;
                }
                catch (SocketException)
                {
                }
            }
        }

        throw new InvalidOperationException("no free port pair for a cluster node");

        static int Bind(int port, out TcpListenerScope scope)
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            scope = new TcpListenerScope(listener);
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }

    /// <summary>Starts <c>redis-server</c> in <paramref name="dir"/> with AOF fsynced on every write; returns once it answers PING.</summary>
    public static async Task<Process> StartAsync(string dir, int port, params string[] extra)
    {
        Directory.CreateDirectory(dir);
        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, WorkingDirectory = dir };
        foreach (var arg in (string[])["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir,
                     "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no", "--protected-mode", "no",
                     "--logfile", Path.Combine(dir, "redis.log"), .. extra])
        {
            info.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed (apt-get install -y redis-server; scripts/test.sh installs it)", e);
        }

        await WaitUntil(async () => !process.HasExited && (await Cli(port, "ping")).Contains("PONG", StringComparison.Ordinal),
            () => $"redis-server on port {port} did not answer PING: {Log(dir)}");
        return process;
    }

    /// <summary>Runs <c>redis-cli -p port args</c> and returns what it printed.</summary>
    public static async Task<string> Cli(int port, params string[] args)
    {
        var info = new ProcessStartInfo("redis-cli") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args])
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Ceiling);
        await process.WaitForExitAsync(timeout.Token);
        return await output + await error;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the ceiling passes.</summary>
    public static async Task WaitUntil(Func<Task<bool>> condition, Func<string> failure)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > Ceiling)
            {
                throw new TimeoutException(failure());
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Kills a server by its PID and waits for it to go.</summary>
    public static void Stop(Process? process)
    {
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(30_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
    }

    public static void DeleteDir(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }

    private static string Log(string dir)
    {
        var path = Path.Combine(dir, "redis.log");
        return File.Exists(path) ? File.ReadAllText(path) : "(no log)";
    }

    internal sealed class TcpListenerScope(TcpListener listener) : IDisposable
    {
        public void Dispose() => listener.Stop();

        public void Stop() => listener.Stop();
    }
}

/// <summary>One <c>redis-server</c> (AOF, <c>appendfsync always</c>) for a test collection.</summary>
public sealed class RedisSingleFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-redis-" + Guid.NewGuid().ToString("N"));
    private Process? _process;
    private ConnectionMultiplexer? _connection;

    public int Port { get; private set; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public ConnectionMultiplexer Connection => _connection ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        Port = RedisServers.FreePort();
        _process = await RedisServers.StartAsync(_dir, Port);
        _connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.CloseAsync();
            _connection.Dispose();
        }

        RedisServers.Stop(_process);
        RedisServers.DeleteDir(_dir);
    }
}

/// <summary>A Redis Cluster of three masters (no replicas) on 127.0.0.1, for a test collection.</summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-redis-cluster-" + Guid.NewGuid().ToString("N"));
    private readonly List<Process> _processes = [];
    private ConnectionMultiplexer? _connection;

    public IReadOnlyList<int> Ports { get; private set; } = [];

    public string ConnectionString => string.Join(",", Ports.Select(p => $"127.0.0.1:{p}"));

    public ConnectionMultiplexer Connection => _connection ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        var ports = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            int port;
            do
            {
                port = RedisServers.FreePort(busPort: true);
            }
            while (ports.Contains(port));

            ports.Add(port);
            _processes.Add(await RedisServers.StartAsync(Path.Combine(_dir, "node" + i), port,
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"));
        }

        Ports = ports;
        var create = await RedisServers.Cli(ports[0], ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"]);
        Assert.True(create.Contains("All 16384 slots covered", StringComparison.Ordinal), create);

        // Every node must see the whole cluster before a client asks it for the slot map.
        foreach (var port in ports)
        {
            await RedisServers.WaitUntil(async () =>
            {
                var info = await RedisServers.Cli(port, "cluster", "info");
                return info.Contains("cluster_state:ok", StringComparison.Ordinal) && info.Contains("cluster_known_nodes:3", StringComparison.Ordinal);
            }, () => $"the cluster node on {port} did not reach cluster_state:ok");
        }

        _connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.CloseAsync();
            _connection.Dispose();
        }

        foreach (var process in _processes)
        {
            RedisServers.Stop(process);
        }

        RedisServers.DeleteDir(_dir);
    }
}

[CollectionDefinition("redis-single")]
public sealed class RedisSingleCollection : ICollectionFixture<RedisSingleFixture>;

[CollectionDefinition("redis-cluster")]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterFixture>;
