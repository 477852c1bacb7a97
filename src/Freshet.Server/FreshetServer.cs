using System.Net;
using Freshet.Server.Grpc;
using Freshet.Server.Http;
using Freshet.Server.Observability;
using Freshet.Serving;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Freshet.Server;

/// <summary>Where and how <c>freshet serve</c> listens.</summary>
public sealed record FreshetServerOptions
{
    /// <summary>The address to bind (127.0.0.1 by default; "localhost" means loopback).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The HTTP port (Feast's 6566); 0 picks a free one.</summary>
    public int Port { get; init; } = 6566;

    /// <summary>The gRPC port (HTTP/2 without TLS); 0 picks a free one; -1 turns gRPC off.</summary>
    public int GrpcPort { get; init; } = 6570;

    /// <summary>The largest request body accepted; larger gives 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>How often the registry is checked for a new version (an apply made elsewhere).</summary>
    public TimeSpan RegistryPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The least log level written to the console.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;

    /// <summary>Where requests are recorded (docs/audit.md); null records nothing.</summary>
    public Freshet.Governance.IAuditLog? AuditLog { get; init; }

    /// <summary>The share of successful online reads recorded in <see cref="AuditLog"/>, from 0 to 1.</summary>
    public double AuditReadSampleRate { get; init; }
    /// <summary>API keys and permissions (docs/security.md); null (the default for an embedded server) admits every request.</summary>
    public Governance.ApiKeyAuthOptions? Auth { get; init; }
}

/// <summary>A started server and the ports it listens on.</summary>
public sealed class RunningServer(WebApplication app, int httpPort, int grpcPort) : IAsyncDisposable
{
    /// <summary>The application (for waiting on shutdown).</summary>
    public WebApplication App { get; } = app;

    /// <summary>The HTTP port.</summary>
    public int HttpPort { get; } = httpPort;

    /// <summary>The gRPC port, or -1 when off.</summary>
    public int GrpcPort { get; } = grpcPort;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Freshet's server: Feast's HTTP API, gRPC ServingService and Freshet's PushService over one <see cref="FeatureStore"/>.</summary>
public static class FreshetServer
{
    /// <summary>Builds the web application (not started).</summary>
    public static WebApplication Build(FeatureStore store, FreshetServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(options);
        builder.Services.AddHostedService<RegistryFollower>();
        ServerTelemetry.Add(builder, store);
        Readiness.Add(builder.Services, store);
        Governance.AuditTrail.AddServices(builder.Services, options);
        if (options.Auth is { } auth)
        {
            Governance.ApiKeyAuthentication.Register(builder.Services, auth);
        }

        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = (int)Math.Min(int.MaxValue, options.MaxRequestBodyBytes));
        builder.Services.AddSingleton<global::Grpc.AspNetCore.Server.Model.IServiceMethodProvider<ServingServiceImpl>, ServingMethods>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            var address = options.Host == "localhost" ? IPAddress.Loopback
                : IPAddress.TryParse(options.Host, out var ip) ? ip
                : throw new ArgumentException($"host '{options.Host}' is not an IP address (or localhost)", nameof(options));

            // Feast's HTTP clients speak HTTP/1.1; cleartext HTTP/2 goes to the gRPC port.
            k.Listen(address, options.Port, l => l.Protocols = HttpProtocols.Http1);
            if (options.GrpcPort >= 0)
            {
                // gRPC over cleartext needs HTTP/2 with prior knowledge: a port of its own.
                k.Listen(address, options.GrpcPort, l => l.Protocols = HttpProtocols.Http2);
            }
        });

        var app = builder.Build();
        // Outside the metrics: an unknown path still counts as http_404, and now also gets a JSON error body.
        app.UseStatusCodePages(FeastHttpEndpoints.WriteStatusErrorAsync);
        app.Use(RequestMetrics.InvokeAsync);
        ServerTelemetry.Map(app, store);
        Readiness.Map(app);
        Governance.AuditTrail.Use(app, options);
        if (options.Auth is { } keys)
        {
            Governance.ApiKeyAuthentication.Use(app, keys);
        }

        FeastHttpEndpoints.Map(app, store, options);
        OnlineStoreStatsEndpoint.Map(app, store, options);
        app.MapGrpcService<ServingServiceImpl>();
        app.MapGrpcService<PushServiceImpl>();
        return app;
    }

    /// <summary>Builds and starts the server; the ports are known when this returns.</summary>
    public static async Task<RunningServer> StartAsync(FeatureStore store, FreshetServerOptions options, CancellationToken cancellationToken = default)
    {
        var app = Build(store, options);
        await app.StartAsync(cancellationToken);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        var ports = addresses.Select(a => new Uri(a).Port).ToList();
        return new RunningServer(app, ports[0], options.GrpcPort >= 0 && ports.Count > 1 ? ports[1] : -1);
    }
}

/// <summary>Follows the registry: a new version (an apply) takes effect without a restart.</summary>
internal sealed class RegistryFollower(FeatureStore store, FreshetServerOptions options, ILogger<RegistryFollower> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.RegistryPollInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (await store.RefreshAsync(stoppingToken))
                {
                    logger.LogInformation("Serving registry version {Version}", store.Registry.Version);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A registry being replaced or briefly unreadable must not stop serving the version we have.
                logger.LogWarning(e, "Could not reload the registry; still serving version {Version}", store.Registry.Version);
            }
        }
    }
}
