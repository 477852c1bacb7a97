using Freshet.Model;
using Freshet.Observability;
using Freshet.Serving;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Freshet.Server.Observability;

/// <summary>
/// Exports Freshet's metrics and traces from the server (docs/observability.md): <c>GET /metrics</c> in Prometheus'
/// text format through OpenTelemetry's exporter, and spans to an OTLP endpoint when freshet.yaml names one.
/// </summary>
internal static class ServerTelemetry
{
    /// <summary>The BCL's process and runtime meter (CPU, memory, GC, thread pool), .NET 9 and later.</summary>
    private const string RuntimeMeter = "System.Runtime";

    /// <summary>ASP.NET Core's activity source: the server span that Freshet's spans nest under.</summary>
    private const string AspNetCoreSource = "Microsoft.AspNetCore";

    public static void Add(WebApplicationBuilder builder, FeatureStore store)
    {
        var config = store.Config.Observability;
        if (!config.Metrics && config.Tracing is null)
        {
            return;
        }

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(config.Tracing?.ServiceName ?? "freshet"));
        if (config.Metrics)
        {
            builder.Services.AddSingleton(_ => StoreGauges.Register(store));
            otel.WithMetrics(m => m
                .AddMeter(FreshetTelemetry.Name, RuntimeMeter)
                // Gauges of System.Runtime whose names end in "count", which Prometheus keeps for histograms (promtool says so).
                .AddView("dotnet.assembly.count", "dotnet.assemblies.loaded")
                .AddView("dotnet.process.cpu.count", "dotnet.process.cpus")
                .AddView("dotnet.timer.count", "dotnet.timers.active")
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        }

        if (config.Tracing is { } tracing)
        {
            otel.WithTracing(t => t
                .AddSource(FreshetTelemetry.Name, AspNetCoreSource)
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(tracing.SampleRatio)))
                .AddOtlpExporter(o =>
                {
                    o.Protocol = tracing.Protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = TracesEndpoint(tracing);
                    // Spans leave within a second, not the SDK's default five: a trace is looked at right after the request.
                    o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 1000;
                }));
        }
    }

    public static void Map(WebApplication app, FeatureStore store)
    {
        if (store.Config.Observability.Metrics)
        {
            // The gauges are created with the first resolution; the scrape endpoint needs no permission (docs/observability.md).
            app.Services.GetRequiredService<StoreGauges>();
            app.MapPrometheusScrapingEndpoint("/metrics");
        }
    }

    /// <summary>
    /// The URL spans are sent to. Over http/protobuf the exporter posts to the URL as given, so a base URL (the
    /// way OTEL_EXPORTER_OTLP_ENDPOINT is written) gets the signal path <c>/v1/traces</c>.
    /// </summary>
    internal static Uri TracesEndpoint(TracingConfig tracing)
    {
        if (tracing.Protocol == "grpc" || tracing.OtlpEndpoint.AbsolutePath.EndsWith("/v1/traces", StringComparison.Ordinal))
        {
            return tracing.OtlpEndpoint;
        }

        var b = new UriBuilder(tracing.OtlpEndpoint);
        b.Path = b.Path.TrimEnd('/') + "/v1/traces";
        return b.Uri;
    }
}
