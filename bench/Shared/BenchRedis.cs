using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Freshet.Benchmarks;

/// <summary>
/// A redis-server the benchmark starts for itself on a free 127.0.0.1 port in a temporary directory, with AOF on
/// and <c>appendfsync everysec</c> (Redis's default for AOF; the tests use <c>always</c>), killed by its PID.
/// </summary>
internal sealed class BenchRedis : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private BenchRedis(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static BenchRedis Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var dir = Directory.CreateTempSubdirectory("freshet-bench-redis-").FullName;
        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, WorkingDirectory = dir };
        foreach (var arg in (string[])["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
                     "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no", "--logfile", Path.Combine(dir, "redis.log")])
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = ConnectionMultiplexer.Connect($"127.0.0.1:{port},connectTimeout=1000");
                probe.GetDatabase().Ping();
                return new BenchRedis(process, dir, port);
            }
            catch (RedisConnectionException) when (clock.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited)
            {
                Thread.Sleep(100);
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(30_000);
        }

        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
