using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Freshet.Cli.Tests;

/// <summary>
/// `freshet serve` in a child process on 127.0.0.1 with free ports, as a user runs it; stopped by PID
/// (gracefully, or with SIGKILL to test crashes).
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _errors;

    private ServerProcess(Process process, StringBuilder errors, int httpPort, int grpcPort)
    {
        _process = process;
        _errors = errors;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public HttpClient Http { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What the server wrote to stderr so far.</summary>
    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>Starts the server and waits (up to 60 s) until it prints the ports it listens on.</summary>
    public static async Task<ServerProcess> StartAsync(string repoDirectory, bool grpc = false, string[]? extraArgs = null)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "freshet.dll");
        var start = new ProcessStartInfo("dotnet", ["exec", cli, "serve", "--repo", repoDirectory, "--port", "0", "--grpc-port", grpc ? "0" : "-1", .. extraArgs ?? []])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        var process = Process.Start(start)!;
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                await process.WaitForExitAsync(timeout.Token);
                lock (errors)
                {
                    throw new InvalidOperationException($"freshet serve exited with {process.ExitCode} before listening:\n{errors}");
                }
            }

            var match = Listening().Match(line);
            if (match.Success)
            {
                var grpcPort = match.Groups["grpc"].Success ? int.Parse(match.Groups["grpc"].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
                return new ServerProcess(process, errors, int.Parse(match.Groups["http"].Value, System.Globalization.CultureInfo.InvariantCulture), grpcPort);
            }
        }
    }

    public async Task<(int Status, JsonNode? Body)> PostAsync(string path, string json)
    {
        using var response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<JsonNode?> GetJsonAsync(string path) => Http.GetFromJsonAsync<JsonNode>(path);

    /// <summary>
    /// SIGKILL: no shutdown code runs, as in a power cut of the process. <paramref name="entireProcessTree"/> false
    /// signals the server alone at once, without first walking the process table for children (it starts none).
    /// </summary>
    public async Task KillAsync(bool entireProcessTree = true)
    {
        _process.Kill(entireProcessTree);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"on http://[^:]+:(?<http>\d+)(?: and gRPC [^:]+:(?<grpc>\d+))?")]
    private static partial Regex Listening();
}
