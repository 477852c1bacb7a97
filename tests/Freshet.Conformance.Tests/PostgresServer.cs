using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Freshet.Postgres.Tests;

/// <summary>
/// A real PostgreSQL 15 server on 127.0.0.1 and a free port, its data directory and unix socket in a temp
/// directory, <c>fsync=on</c>; stopped by PID. PostgreSQL refuses to run as root, so when the tests run as
/// root the server runs as the <c>postgres</c> system user (which the postgresql-15 package creates) through
/// <c>runuser</c>. Password authentication over TCP (scram-sha-256), so tests can also try a wrong password.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    public const string User = "freshet";
    public const string Password = "freshet-test-password";

    private static int _databases;
    private readonly string _root;
    private Process? _process;

    public PostgresServer()
    {
        if (BinDirectory is null)
        {
            throw new InvalidOperationException("PostgreSQL 15 is not installed: apt-get install -y postgresql-15");
        }

        _root = Path.Combine(Path.GetTempPath(), "freshet-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        DataDir = Path.Combine(_root, "data");
        Port = FreePort();
        try
        {
            if (RunsAsRoot)
            {
                // The server's user owns its directory; the socket directory is the root of the temp dir.
                Run("chown", ["postgres:postgres", _root]);
            }

            var pwfile = Path.Combine(_root, "pwfile");
            File.WriteAllText(pwfile, Password + "\n");
            if (RunsAsRoot)
            {
                Run("chown", ["postgres:postgres", pwfile]);
            }

            RunServerTool("initdb", ["-D", DataDir, "-U", User, "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
            File.Delete(pwfile);
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Where the PostgreSQL 15 binaries are, or null when they are not installed.</summary>
    public static string? BinDirectory { get; } = Directory.Exists("/usr/lib/postgresql/15/bin") ? "/usr/lib/postgresql/15/bin" : null;

    public int Port { get; }

    public string DataDir { get; }

    /// <summary>The connection string of the server's <c>postgres</c> database (the one databases are created from).</summary>
    public string AdminConnectionString => ConnectionString("postgres");

    private static bool RunsAsRoot => Environment.UserName == "root";

    /// <summary>The connection string of database <paramref name="database"/>.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username={User};Password={Password};Database={database};Timeout=60;Command Timeout=120";

    /// <summary>Creates a new, empty database and returns its connection string: one per test, so tests never see each other's rows.</summary>
    public string CreateDatabase()
    {
        var name = $"t{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        using var connection = new NpgsqlConnection(AdminConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        command.ExecuteNonQuery();
        return ConnectionString(name);
    }

    private void Start()
    {
        var options = string.Join(' ',
            "-c", "listen_addresses=127.0.0.1",
            "-c", $"port={Port.ToString(CultureInfo.InvariantCulture)}",
            "-c", $"unix_socket_directories={_root}",
            "-c", "fsync=on",
            "-c", "max_connections=200",
            "-c", "shared_buffers=32MB");
        _process = StartServerTool("postgres", ["-D", DataDir, .. options.Split(' ')]);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var connection = new NpgsqlConnection(AdminConnectionString);
                connection.Open();
                return;
            }
            catch (Exception e) when (e is NpgsqlException or SocketException)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(90) || _process.HasExited)
                {
                    throw new InvalidOperationException($"PostgreSQL did not accept connections on port {Port}: {e.Message}", e);
                }

                Thread.Sleep(100);
            }
        }
    }

    /// <summary>Stops the server by its PID (SIGKILL: a test server needs no clean shutdown) and waits for it.</summary>
    private void Stop()
    {
        if (_process is { } p)
        {
            if (!p.HasExited)
            {
                // runuser (when root) execs nothing: it forks the server. Kill the whole process group it leads.
                p.Kill(entireProcessTree: true);
                p.WaitForExit(30_000);
            }

            p.Dispose();
            _process = null;
        }
    }

    public void Dispose()
    {
        Stop();
        try
        {
            if (Directory.Exists(_root))
            {
                Directory.Delete(_root, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static ProcessStartInfo Info(string tool, IEnumerable<string> args)
    {
        var path = Path.Combine(BinDirectory!, tool);
        var info = new ProcessStartInfo(RunsAsRoot ? "runuser" : path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (RunsAsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", path })
            {
                info.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        return info;
    }

    private static void RunServerTool(string tool, IEnumerable<string> args) => Wait(Process.Start(Info(tool, args)), tool);

    private static void Run(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        Wait(Process.Start(info), file);
    }

    private static void Wait(Process? process, string name)
    {
        using var p = process ?? throw new InvalidOperationException($"{name} did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{name} did not finish in 120 s");
        }

        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{name} failed with exit code {p.ExitCode}: {stdout.Result}\n{stderr.Result}");
        }
    }

    private static Process StartServerTool(string tool, IEnumerable<string> args)
    {
        var p = Process.Start(Info(tool, args)) ?? throw new InvalidOperationException($"{tool} did not start");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
