using System.Net;
using System.Net.Sockets;
using System.Text;
using Freshet.Model;

namespace Freshet.Server.Tests;

/// <summary>
/// Spans reach an OTLP endpoint (docs/observability.md): a listener on 127.0.0.1 takes the exporter's OTLP/HTTP
/// protobuf posts at <c>/v1/traces</c>, and the span names of a served read arrive (protobuf keeps strings as UTF-8).
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task Spans_of_a_read_and_a_push_reach_the_otlp_endpoint()
    {
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var received = new List<(string Path, byte[] Body)>();
        using var stop = new CancellationTokenSource();
        var receiving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext ctx;
                try
                {
                    ctx = await listener.GetContextAsync();
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }

                using var body = new MemoryStream();
                await ctx.Request.InputStream.CopyToAsync(body);
                lock (received)
                {
                    received.Add((ctx.Request.Url!.AbsolutePath, body.ToArray()));
                }

                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "application/x-protobuf";
                ctx.Response.Close();
            }
        });

        var tracing = new TracingConfig { OtlpEndpoint = new Uri($"http://127.0.0.1:{port}"), ServiceName = "freshet-tracing-test" };
        await using (var s = await ObservedServer.StartAsync("tracing_test", new ObservabilityConfig { Tracing = tracing }))
        {
            Assert.Equal(200, await s.PushAsync("a1", 3, DateTimeOffset.UtcNow));
            Assert.Equal(200, (await s.PostAsync("/get-online-features", """{"features": ["tx_stats:count_1h"], "entities": {"account_id": ["a1"]}}""")).Status);

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (DateTime.UtcNow < deadline && !Has(received, "freshet.get_online_features", "freshet.push", "freshet.online_store.read"))
            {
                await Task.Delay(200);
            }
        }

        stop.Cancel();
        listener.Stop();
        await receiving;

        Assert.True(Has(received, "freshet.get_online_features", "freshet.push", "freshet.online_store.read", "freshet-tracing-test"),
            $"posts received: {string.Join(", ", received.Select(r => $"{r.Path} ({r.Body.Length} bytes)"))}");
        lock (received)
        {
            Assert.All(received, r => Assert.Equal("/v1/traces", r.Path));
        }
    }

    private static bool Has(List<(string Path, byte[] Body)> received, params string[] names)
    {
        lock (received)
        {
            return names.All(n => received.Any(r => r.Body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(n)) >= 0));
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
