using System.Diagnostics;
using Freshet.Observability;

namespace Freshet.Server.Observability;

/// <summary>The error code an endpoint answered with, kept on the request for the error counter.</summary>
internal sealed record AnsweredError(string Code);

/// <summary>
/// Counts answered errors by endpoint, code and status (<c>freshet_request_errors_total</c>): HTTP answers of 400 and
/// above with the code of their JSON body (<c>internal</c> for a 5xx nobody explained, <c>http_NNN</c> for other
/// statuses without a body, such as 404 for an unknown path), and gRPC calls ending with a status other than OK
/// (the status label is then <c>grpc_N</c>). Requests that succeed pay one comparison.
/// </summary>
internal static class RequestErrorMetrics
{
    public static async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        catch (Exception) when (!ctx.RequestAborted.IsCancellationRequested)
        {
            Record(ctx, "internal", "500");
            throw;
        }

        var status = ctx.Response.StatusCode;
        if (status >= 400)
        {
            var code = ctx.Features.Get<AnsweredError>()?.Code ?? (status >= 500 ? "internal" : $"http_{status}");
            Record(ctx, code, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else if (ctx.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true
            && ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>()?.Trailers is { } trailers
            && trailers.TryGetValue("grpc-status", out var grpcStatus) && grpcStatus != "0")
        {
            var code = trailers.TryGetValue("freshet-error-code", out var c) ? c.ToString() : "grpc_error";
            Record(ctx, code, "grpc_" + grpcStatus);
        }
    }

    private static void Record(HttpContext ctx, string code, string status)
    {
        if (!FreshetTelemetry.RequestErrors.Enabled)
        {
            return;
        }

        var endpoint = (ctx.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
        FreshetTelemetry.RequestErrors.Add(1, new TagList { { "endpoint", endpoint }, { "code", code }, { "status", status } });
    }
}
