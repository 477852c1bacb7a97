using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Freshet.Testing;

/// <summary>
/// A real <c>moto_server</c> (an S3-compatible server in Python) on 127.0.0.1 at a free port, started for the
/// tests that share it and stopped by its process id. Found on PATH or at <c>/root/.pyenv/shims/moto_server</c>;
/// when it is absent the fixture fails with a message saying so (it does not skip).
/// </summary>
public sealed class MotoServer : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private int _buckets;

    public MotoServer()
        : this(new Dictionary<string, string>())
    {
    }

    private MotoServer(IReadOnlyDictionary<string, string> environment)
    {
        var executable = Find() ?? throw new InvalidOperationException(
            "moto_server was not found on PATH nor at /root/.pyenv/shims/moto_server: install it with 'pip install \"moto[server]\"' to run the S3 tests");
        Port = FreePort();
        var start = new ProcessStartInfo(executable)
        {
            ArgumentList = { "-H", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");

        // Drain its output so a chatty server never blocks on a full pipe.
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public Task InitializeAsync() => WaitUntilUpAsync();

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public int Port { get; }

    /// <summary>
    /// A server (besides the shared fixture) with extra environment variables, moto's own settings such as
    /// <c>INITIAL_NO_AUTH_ACTION_COUNT</c>; up when the task completes.
    /// </summary>
    public static async Task<MotoServer> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var server = new MotoServer(environment);
        try
        {
            await server.InitializeAsync();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Any credentials do for moto; the SDK only needs some to sign with.</summary>
    public static AWSCredentials Credentials { get; } = new BasicAWSCredentials("testing", "testing");

    /// <summary>A client of the server for the tests' own setup (uploads), not the code under test.</summary>
    public AmazonS3Client Client() => new(Credentials, new AmazonS3Config { ServiceURL = Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });

    /// <summary>A new, empty bucket with a unique name.</summary>
    public async Task<string> CreateBucketAsync()
    {
        var name = $"freshet-{Interlocked.Increment(ref _buckets)}-{Guid.NewGuid():N}"[..40];
        using var client = Client();
        await client.PutBucketAsync(name);
        return name;
    }

    public async Task PutFileAsync(string bucket, string key, string file)
    {
        using var client = Client();
        await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, FilePath = file });
    }

    public async Task DeleteAsync(string bucket, string key)
    {
        using var client = Client();
        await client.DeleteObjectAsync(bucket, key);
    }

    /// <summary>
    /// Makes requests until one is refused for its credentials (a server started with
    /// <c>INITIAL_NO_AUTH_ACTION_COUNT</c>); false if none is within <paramref name="attempts"/>.
    /// </summary>
    public async Task<bool> SpendUnauthenticatedRequestsAsync(string bucket, int attempts)
    {
        using var client = Client();
        for (var i = 0; i < attempts; i++)
        {
            try
            {
                await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, MaxKeys = 1 });
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Forbidden)
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    /// <summary>A port nothing listens on (bound and released at once).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? Find()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, "moto_server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return File.Exists("/root/.pyenv/shims/moto_server") ? "/root/.pyenv/shims/moto_server" : null;
    }

    private async Task WaitUntilUpAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"moto_server exited with code {_process.ExitCode} before it answered on port {Port}");
            }

            try
            {
                using var response = await http.GetAsync(Endpoint);
                return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        Dispose();
        throw new InvalidOperationException($"moto_server did not answer on {Endpoint} within {StartTimeout.TotalSeconds} s");
    }
}

[CollectionDefinition(Name)]
public sealed class MotoCollection : ICollectionFixture<MotoServer>
{
    public const string Name = "moto_server";
}
