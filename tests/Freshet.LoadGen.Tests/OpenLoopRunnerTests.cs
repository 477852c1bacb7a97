using System.Diagnostics;
using Freshet.Server;
using Microsoft.AspNetCore.Http;

namespace Freshet.LoadGen.Tests;

public sealed class OpenLoopRunnerTests
{
    [Fact]
    public async Task Every_scheduled_request_to_a_real_server_is_counted_once()
    {
        await using var scenario = await Scenario.CreateAsync("a", redis: null);
        await using var server = await FreshetServer.StartAsync(scenario.Store, new FreshetServerOptions { Port = 0, GrpcPort = -1 });
        using var client = HttpLoadTarget.Client(server.HttpPort, 4);
        var target = new HttpLoadTarget("freshet-http", client, "/get-online-features", scenario.HttpBody, "application/json");

        var result = await OpenLoopRunner.RunAsync(target, new RunShape(Rate: 50, Warmup: TimeSpan.FromSeconds(0.5), Duration: TimeSpan.FromSeconds(2), Timeout: TimeSpan.FromSeconds(60)));

        // 50/s for 2 s measured: 100 requests due, each one answered (the 25 warm-up ones are not recorded).
        Assert.Equal(100, result.Scheduled);
        Assert.Empty(result.Errors);
        Assert.Equal(100, result.Ok);
        Assert.Equal(100, result.Latency.TotalCount);
        // 100 answers over at most 100 s: loose, since a busy machine stretches the window.
        Assert.True(result.Throughput > 1, $"throughput {result.Throughput}");
        Assert.True(result.Ms(50) > 0);
    }

    [Fact]
    public async Task A_stall_shows_in_every_request_scheduled_during_it()
    {
        // The endpoint stalls once for 500 ms, about one second in: every request that arrives while the stall
        // lasts waits for its end (as in a GC pause), whichever connection it came on.
        var gate = new StallGate(after: TimeSpan.FromSeconds(1), length: TimeSpan.FromMilliseconds(500));
        await using var endpoint = await BareEndpoint.StartAsync("/x", "{}"u8.ToArray(), "application/json", gate.WaitAsync);
        using var client = HttpLoadTarget.Client(endpoint.Port, 2);
        var target = new HttpLoadTarget("stalled", client, "/x", "{}"u8.ToArray(), "application/json");
        const double Rate = 100;

        var result = await OpenLoopRunner.RunAsync(target, new RunShape(Rate, Warmup: TimeSpan.Zero, Duration: TimeSpan.FromSeconds(3), Timeout: TimeSpan.FromSeconds(60)));

        Assert.True(gate.Stalled, "the stall never happened");
        Assert.Equal(300, result.Ok);
        // Requests due in the first 300 ms of the stall complete at least 200 ms after their due time: about
        // 0.3 s x 100/s = 30 of them. Measured from the send time (coordinated omission) only the few already in
        // flight would show it, since the rest are sent late. The bound is loose so that a busy machine, which
        // only makes latencies longer, cannot fail it.
        var slow = result.CountAtOrAbove(200_000);
        Assert.True(slow >= Rate * 0.2, $"only {slow} requests took >= 200 ms; max {result.MaxMs} ms");
        Assert.True(result.MaxMs >= 400, $"max {result.MaxMs} ms");
    }

    private sealed class StallGate(TimeSpan after, TimeSpan length)
    {
        private readonly long _start = Stopwatch.GetTimestamp();
        private readonly Lock _lock = new();
        private long _stallEnd;

        public bool Stalled => Volatile.Read(ref _stallEnd) != 0;

        public async Task WaitAsync(HttpContext context)
        {
            long end;
            lock (_lock)
            {
                if (_stallEnd == 0 && Stopwatch.GetElapsedTime(_start) >= after)
                {
                    _stallEnd = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
                }

                end = _stallEnd;
            }

            var left = end == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), end);
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left, context.RequestAborted);
            }
        }
    }
}
