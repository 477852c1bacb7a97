using System.Text.Json;
using Freshet.Online;
using Freshet.Serving;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Freshet.Server.Observability;

/// <summary>
/// <c>GET /ready</c> (docs/observability.md): 200 when a registry with at least one apply is loaded and the online
/// store answers a read, else 503; the JSON body names each check and why it failed. <c>GET /health</c> stays the
/// cheap liveness answer.
/// </summary>
internal static class Readiness
{
    /// <summary>How long the online store may take to answer before it counts as unreachable.</summary>
    public static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(5);

    public static void Add(IServiceCollection services, FeatureStore store) => services.AddHealthChecks()
        .AddCheck("registry", new RegistryLoaded(store))
        .AddCheck("online_store", new OnlineStoreReachable(store));

    public static void Map(IEndpointRouteBuilder app) => app.MapHealthChecks("/ready", new HealthCheckOptions
    {
        ResponseWriter = WriteAsync,
        ResultStatusCodes =
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        },
    });

    private static async Task WriteAsync(HttpContext ctx, HealthReport report)
    {
        ctx.Response.ContentType = "application/json";
        using (var w = new Utf8JsonWriter(ctx.Response.BodyWriter))
        {
            w.WriteStartObject();
            w.WriteString("status", report.Status == HealthStatus.Unhealthy ? "unavailable" : "ready");
            w.WriteStartArray("failing");
            foreach (var (name, entry) in report.Entries)
            {
                if (entry.Status == HealthStatus.Unhealthy)
                {
                    w.WriteStringValue(name);
                }
            }

            w.WriteEndArray();
            w.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                w.WriteStartObject(name);
                w.WriteString("status", entry.Status == HealthStatus.Unhealthy ? "unavailable" : "ok");
                w.WriteString("message", entry.Description);
                w.WriteNumber("seconds", entry.Duration.TotalSeconds);
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        await ctx.Response.BodyWriter.FlushAsync(ctx.RequestAborted);
    }

    private static IOnlineStore BelowCache(IOnlineStore store) => store switch
    {
        Freshet.Observability.InstrumentedOnlineStore i => BelowCache(i.Inner),
        CachingOnlineStore c => c.Inner,
        _ => store,
    };

    private sealed class RegistryLoaded(FeatureStore store) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var version = store.Registry.Version;
            return Task.FromResult(version > 0
                ? HealthCheckResult.Healthy($"registry version {version}")
                : HealthCheckResult.Unhealthy("no registry has been applied yet (run freshet apply)"));
        }
    }

    private sealed class OnlineStoreReachable(FeatureStore store) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StoreTimeout);
            try
            {
                // A read of a key that cannot exist proves the store answers; below the cache, which would
                // remember the absent key and answer without asking the store.
                await BelowCache(store.Online).ReadAsync([new OnlineKey("\u0001ready", [])], new byte[]?[1], timeout.Token);
                return HealthCheckResult.Healthy(Freshet.Observability.InstrumentedOnlineStore.NameOf(store.Online) + " answers");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy($"the online store did not answer within {StoreTimeout.TotalSeconds:0} s");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return HealthCheckResult.Unhealthy("the online store does not answer: " + e.Message);
            }
        }
    }
}
