using Freshet.Benchmarks;
using Freshet.Server;
using Grpc.Core;
using Grpc.Net.Client;
using StackExchange.Redis;

namespace Freshet.LoadGen;

/// <summary>
/// One scenario end to end: the store and its data, Freshet in-process (<see cref="FreshetServer.StartAsync"/>,
/// HTTP and gRPC on 127.0.0.1), the bare Kestrel endpoint answering Freshet's captured bytes, raw Redis MGET; then
/// the closed-loop maximum of each target and the open-loop sweep at fractions of Freshet HTTP's maximum, the
/// targets taking turns at each rate (in a rotating order) so that the machine's noise falls on all of them.
/// </summary>
internal static class LoadGenRun
{
    public static async Task<ScenarioReport> RunScenarioAsync(string scenarioName, LoadGenOptions options, TextWriter log, CancellationToken cancellationToken = default)
    {
        using var redis = options.Store == "redis" ? BenchRedis.Start() : null;
        await using var scenario = await Scenario.CreateAsync(scenarioName, redis?.ConnectionString, inMemory: options.Store == "memory");
        // Failed requests are counted by kind; the server's own log of each would flood the table under overload.
        await using var server = await FreshetServer.StartAsync(scenario.Store, new FreshetServerOptions { Port = 0, GrpcPort = 0, LogLevel = Microsoft.Extensions.Logging.LogLevel.Critical }, cancellationToken);
        using var freshetClient = HttpLoadTarget.Client(server.HttpPort, options.Connections);
        const string Path = "/get-online-features";
        const string JsonType = "application/json";

        // The bare endpoint answers exactly what Freshet answered for this request.
        using var capture = new ByteArrayContent(scenario.HttpBody);
        capture.Headers.TryAddWithoutValidation("Content-Type", JsonType);
        using var captured = await freshetClient.PostAsync(Path, capture, cancellationToken);
        var responseBytes = await captured.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!captured.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Freshet answered {(int)captured.StatusCode} to the scenario's request: {System.Text.Encoding.UTF8.GetString(responseBytes)}");
        }

        // A benchmark of empty answers would flatter the server: every value must be there.
        var text = System.Text.Encoding.UTF8.GetString(responseBytes);
        if (!text.Contains("\"PRESENT\"", StringComparison.Ordinal) || text.Contains("\"NOT_FOUND\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Freshet's answer to the scenario's request lacks values: {text[..Math.Min(500, text.Length)]}");
        }

        var responseType = captured.Content.Headers.ContentType?.ToString() ?? JsonType;
        await using var bare = await BareEndpoint.StartAsync(Path, responseBytes, responseType);
        using var bareClient = HttpLoadTarget.Client(bare.Port, options.Connections);
        var channelCounts = options.GrpcChannels.Count == 0 ? [options.Connections] : options.GrpcChannels;
        var channels = channelCounts.Select(n => new GrpcChannels(server.GrpcPort, n)).ToList();
        using var disposeChannels = new Disposables(channels);
        using var pushClient = scenario.Name == "d" ? HttpLoadTarget.Client(server.HttpPort, options.PushConnections) : null;
        using var probe = pushClient is null ? null : new FreshnessProbe(pushClient, scenario.Store);
        using var redisConnection = redis is null ? null : await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);

        var all = new List<ILoadTarget>
        {
            new HttpLoadTarget(Names.FreshetHttp, freshetClient, Path, scenario.HttpBody, JsonType),
            new HttpLoadTarget(Names.BareHttp, bareClient, Path, scenario.HttpBody, JsonType),
        };
        all.AddRange(channels.Select(c => new GrpcLoadTarget(channels.Count == 1 ? Names.FreshetGrpc : $"{Names.FreshetGrpc}-{c.Invokers.Count}ch", c.Invokers, scenario.GrpcRequest, options.GrpcParse)));
        if (redisConnection is not null && scenario.RedisKeys.Length > 0)
        {
            all.Add(new RedisMgetTarget(Names.RedisMget, redisConnection.GetDatabase(), scenario.RedisKeys));
        }

        // --targets freshet-grpc takes every gRPC target (one per --grpc-channels count).
        var targets = options.Targets.Count == 0 ? all : [.. all.Where(t => options.Targets.Contains(t.Name) || (t.Name.StartsWith(Names.FreshetGrpc, StringComparison.Ordinal) && options.Targets.Contains(Names.FreshetGrpc)))];
        if (!targets.Any(t => t.Name == Names.FreshetHttp) && options.MaxRate is null)
        {
            throw new ArgumentException("without freshet-http among the targets, --max-rate must say the maximum rate", nameof(options));
        }

        var load = LoadAverage();
        log.WriteLine($"scenario {scenarioName} ({options.Store}): request {scenario.HttpBody.Length} B, response {responseBytes.Length} B; {options.Connections} HTTP connections, {string.Join(" and ", channelCounts)} gRPC channels (answers {(options.GrpcParse ? "parsed" : "kept as bytes")}){(probe is null ? "" : $", {options.PushRate:F0} pushes/s over {options.PushConnections} connections during every run")}; load average {load}");

        // Every target must answer correctly before it is timed.
        foreach (var target in targets)
        {
            var error = await target.SendAsync(cancellationToken);
            if (error is not null)
            {
                throw new InvalidOperationException($"{target.Name} failed its first request: {error}");
            }
        }

        // Nothing is timed until the process is warm (Settling); in scenario d the pushes warm up beside the reads.
        if (options.Settle > TimeSpan.Zero)
        {
            log.WriteLine($"  settling for {options.Settle.TotalSeconds:F0} s: each target closed loop in turn, 1 s each");
            var settlePushes = probe?.RunAsync(new PushShape(options.PushRate, TimeSpan.Zero, options.Settle, options.Timeout), cancellationToken);
            await Settling.SettleAsync(targets, options.Settle, options.InFlight, options.Timeout, log);
            if (settlePushes is not null)
            {
                await settlePushes;
            }
        }

        var maxima = new Dictionary<string, double>(StringComparer.Ordinal);
        if (options.MaxRate is null)
        {
            foreach (var max in await Settling.MaximaAsync(targets, options.InFlight, options.Warmup, options.MaxDuration, options.Timeout))
            {
                maxima[max.Target] = max.Throughput;
                log.WriteLine($"  max (closed loop, {options.InFlight} in flight) {max.Target,-13} {max.Throughput,9:F0} req/s  (1 s slices {max.SliceMin:F0}–{max.SliceMax:F0})  errors {max.Errors}");
            }
        }

        var maxRate = options.MaxRate ?? maxima[Names.FreshetHttp];
        var runs = new List<RunResult>();
        for (var step = 0; step < options.Fractions.Count; step++)
        {
            var rate = Math.Max(1, Math.Round(options.Fractions[step] * maxRate));
            for (var k = 0; k < targets.Count; k++)
            {
                var target = targets[(k + step) % targets.Count];
                var result = await RunWithPushesAsync(target, new RunShape(rate, options.Warmup, options.Duration, options.Timeout), probe, options.PushRate, cancellationToken);
                runs.Add(result);
                log.WriteLine($"  {options.Fractions[step],5:P0} {LoadReport.Row(result)}");
                if (result.Freshness is { } f)
                {
                    log.WriteLine($"        {LoadReport.FreshnessRow(f)}");
                }
            }
        }

        return new ScenarioReport(scenarioName, options.Store, options.Connections, options.InFlight, maxRate, maxima, runs, load, LoadAverage(), responseBytes.Length)
        {
            SettleSeconds = options.Settle.TotalSeconds,
            GrpcChannels = channelCounts,
            GrpcParse = options.GrpcParse,
            PushRate = probe is null ? null : options.PushRate,
            PushConnections = probe is null ? null : options.PushConnections,
        };
    }

    /// <summary>One open-loop run of reads; with a probe, pushes at <paramref name="pushRate"/> over the same window.</summary>
    public static async Task<RunResult> RunWithPushesAsync(ILoadTarget target, RunShape shape, FreshnessProbe? probe, double pushRate, CancellationToken cancellationToken)
    {
        if (probe is null)
        {
            return await OpenLoopRunner.RunAsync(target, shape, cancellationToken);
        }

        var pushes = probe.RunAsync(new PushShape(pushRate, shape.Warmup, shape.Duration, shape.Timeout), cancellationToken);
        var reads = OpenLoopRunner.RunAsync(target, shape, cancellationToken);
        var result = await reads;
        return result with { Freshness = await pushes };
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}

/// <summary>Everything one scenario measured.</summary>
internal sealed record ScenarioReport(
    string Scenario,
    string Store,
    int Connections,
    int InFlight,
    double MaxRate,
    IReadOnlyDictionary<string, double> ClosedLoopMax,
    IReadOnlyList<RunResult> Runs,
    string LoadBefore,
    string LoadAfter,
    int ResponseBytes)
{
    /// <summary>How long every target ran before anything was timed (<see cref="Settling"/>).</summary>
    public double SettleSeconds { get; init; }

    /// <summary>gRPC channels (HTTP/2 connections) of each gRPC target.</summary>
    public IReadOnlyList<int> GrpcChannels { get; init; } = [1];

    /// <summary>Whether the gRPC targets parsed each answer into Feast's message (<c>--grpc-answer parse</c>).</summary>
    public bool GrpcParse { get; init; }

    /// <summary>Scenario <c>d</c>: events pushed per second during every run.</summary>
    public double? PushRate { get; init; }

    /// <summary>Scenario <c>d</c>: HTTP connections of the push stream.</summary>
    public int? PushConnections { get; init; }
}

/// <summary>Disposes each of a list.</summary>
internal sealed class Disposables(IEnumerable<IDisposable> items) : IDisposable
{
    public void Dispose()
    {
        foreach (var item in items)
        {
            item.Dispose();
        }
    }
}

/// <summary>
/// <c>N</c> gRPC channels to one server, each with its own handler and so its own HTTP/2 connection: with one
/// channel every call shares one TCP connection (a second opens only past 100 concurrent streams), against 16
/// HTTP/1.1 connections for the HTTP targets; the default count matches them.
/// </summary>
internal sealed class GrpcChannels : IDisposable
{
    private readonly List<GrpcChannel> _channels = [];

    public GrpcChannels(int port, int count)
    {
        for (var c = 0; c < count; c++)
        {
            _channels.Add(GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false },
            }));
        }

        Invokers = [.. _channels.Select(c => c.CreateCallInvoker())];
    }

    public IReadOnlyList<CallInvoker> Invokers { get; }

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }
}
