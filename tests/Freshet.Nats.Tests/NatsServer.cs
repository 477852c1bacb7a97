using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Freshet.Nats.Tests;

/// <summary>A real <c>nats-server -js</c> on 127.0.0.1 and a free port, with its store in a temp directory; killed by PID.</summary>
internal sealed class NatsServer : IDisposable
{
    private Process? _process;

    public NatsServer()
    {
        Port = FreePort();
        StoreDir = Directory.CreateTempSubdirectory("freshet-nats-").FullName;
        Start();
    }

    /// <summary>The nats-server executable on PATH, or null when it is not installed.</summary>
    public static string? Executable { get; } = Find();

    public int Port { get; }

    public string StoreDir { get; }

    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Starts the server (again, on the same port and store) and waits until it accepts connections.</summary>
    public void Start()
    {
        var info = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("nats-server is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-js", "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-sd", StoreDir })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("nats-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(15) || _process.HasExited)
                {
                    // The constructor may be failing, so no Dispose would stop it: stop it here.
                    Kill();
                    throw new InvalidOperationException($"nats-server did not accept connections on port {Port}");
                }

                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Kills the server process (by its PID) and waits for it to exit.</summary>
    public void Kill()
    {
        if (_process is { } p)
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit(10_000);
            }

            p.Dispose();
            _process = null;
        }
    }

    public void Dispose()
    {
        Kill();
        try
        {
            Directory.Delete(StoreDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(dir, "nats-server");
            if (dir.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>A test that needs nats-server; skipped with the reason when it is not installed (scripts/test.sh installs it).</summary>
public sealed class NatsFactAttribute : FactAttribute
{
    public NatsFactAttribute()
    {
        if (NatsServer.Executable is null)
        {
            Skip = "nats-server is not installed: apt-get install -y nats-server (scripts/test.sh installs it)";
        }
    }
}
