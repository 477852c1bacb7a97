using System.Diagnostics;
using System.Globalization;
using Freshet.Observability;

namespace Freshet.Server.Observability;

/// <summary>The error code an endpoint answered with, kept on the request for the error counter.</summary>
internal sealed record AnsweredError(string Code);

/// <summary>
/// Times every request (<c>freshet_request_duration_seconds</c>, per endpoint and status) and counts answered errors
/// by endpoint, code and status (<c>freshet_request_errors_total</c>): HTTP answers of 400 and above with the code of
/// their JSON body (<c>internal</c> for a 5xx nobody explained, <c>http_NNN</c> for other statuses without a body,
/// such as 404 for an unknown path), and gRPC calls ending with a status other than OK (the status label is then
/// <c>grpc_N</c>). The endpoint is the route pattern or gRPC method, <c>unmatched</c> for unknown paths; tags are
/// strings that exist already, so a request records without allocating.
/// </summary>
internal static class RequestMetrics
{
    private static readonly string[] Statuses = [.. Enumerable.Range(0, 600).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    public static async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(ctx);
        }
        catch (Exception) when (!ctx.RequestAborted.IsCancellationRequested)
        {
            Duration(ctx, start, 500);
            Error(ctx, "internal", "500");
            throw;
        }

        var status = ctx.Response.StatusCode;
        Duration(ctx, start, status);
        if (status >= 400)
        {
            var code = ctx.Features.Get<AnsweredError>()?.Code ?? (status >= 500 ? "internal" : $"http_{status}");
            Error(ctx, code, Status(status));
        }
        else if (ctx.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
            && ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>()?.Trailers is { } trailers
            && trailers.TryGetValue("grpc-status", out var grpcStatus) && grpcStatus != "0")
        {
            var code = trailers.TryGetValue("freshet-error-code", out var c) ? c.ToString() : "grpc_error";
            Error(ctx, code, "grpc_" + grpcStatus);
        }
    }

    private static string Endpoint(HttpContext ctx) => (ctx.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";

    private static string Status(int status) => (uint)status < (uint)Statuses.Length ? Statuses[status] : status.ToString(CultureInfo.InvariantCulture);

    private static void Duration(HttpContext ctx, long start, int status)
    {
        if (FreshetTelemetry.RequestDuration.Enabled)
        {
            FreshetTelemetry.RequestDuration.Record(FreshetTelemetry.Seconds(start), new TagList { { "endpoint", Endpoint(ctx) }, { "status", Status(status) } });
        }
    }

    private static void Error(HttpContext ctx, string code, string status)
    {
        if (FreshetTelemetry.RequestErrors.Enabled)
        {
            FreshetTelemetry.RequestErrors.Add(1, new TagList { { "endpoint", Endpoint(ctx) }, { "code", code }, { "status", status } });
        }
    }
}
