using System.Net;
using Freshet.Server.Observability;
using Freshet.Serving;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Freshet.Server;

/// <summary>
/// A small HTTP server with only <c>GET /metrics</c>, <c>/health</c> and <c>/ready</c>, for a process that serves no
/// API but should be scraped: <c>freshet ingest --metrics-port</c> (docs/observability.md). Traces go to the OTLP
/// endpoint of freshet.yaml as in <c>freshet serve</c>.
/// </summary>
public static class TelemetryServer
{
    /// <summary>Starts it on <paramref name="host"/>:<paramref name="port"/> (0 picks a free port); the port is known when this returns.</summary>
    public static async Task<RunningServer> StartAsync(FeatureStore store, string host, int port, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var address = host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var ip) ? ip
            : throw new ArgumentException($"host '{host}' is not an IP address (or localhost)", nameof(host));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(address, port, l => l.Protocols = HttpProtocols.Http1);
        });
        ServerTelemetry.Add(builder, store);
        Readiness.Add(builder.Services, store);
        var app = builder.Build();
        ServerTelemetry.Map(app, store);
        Readiness.Map(app);
        app.MapGet("/health", () => Results.Json(new Dictionary<string, object> { ["status"] = "ok", ["registry_version"] = store.Registry.Version }));
        await app.StartAsync(cancellationToken);
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return new RunningServer(app, bound, -1);
    }
}
