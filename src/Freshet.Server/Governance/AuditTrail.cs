using System.Globalization;
using Freshet.Governance;
using Freshet.Protos.V1;
using Freshet.Serving;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Freshet.Server.Governance;

/// <summary>
/// Records the server's requests in the audit log (docs/audit.md): every write and materialization, every refused
/// request (401/403), and a sample of reads. The record is on disk before the response starts, so an answered
/// request is an audited one.
/// </summary>
internal static class AuditTrail
{
    /// <summary>Registers the recorder and the gRPC interceptor when the options carry an audit log.</summary>
    public static void AddServices(IServiceCollection services, FreshetServerOptions options)
    {
        if (options.AuditLog is null)
        {
            return;
        }

        services.AddSingleton(sp => new AuditRecorder(options.AuditLog, options.AuditReadSampleRate, sp.GetRequiredService<FeatureStore>()));
        services.Configure<GrpcServiceOptions>(o => o.Interceptors.Add<AuditInterceptor>());
    }

    /// <summary>Adds the HTTP middleware when the options carry an audit log.</summary>
    public static void Use(WebApplication app, FreshetServerOptions options)
    {
        if (options.AuditLog is null)
        {
            return;
        }

        var recorder = app.Services.GetRequiredService<AuditRecorder>();
        app.Use(async (ctx, next) =>
        {
            if (ctx.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
            {
                // gRPC calls are recorded by AuditInterceptor, with their gRPC status.
                await next(ctx);
                return;
            }

            // The handler may start the response itself (a flush): record just before that happens; else after
            // it returns, before the response starts. Either way the record is durable before the answer leaves.
            var once = new HttpAudit(ctx, recorder);
            ctx.Response.OnStarting(static s => ((HttpAudit)s).RecordAsync(null), once);
            try
            {
                await next(ctx);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await once.RecordAsync(StatusCodes.Status500InternalServerError);
                throw;
            }

            await once.RecordAsync(null);
        });
    }

    private sealed class HttpAudit(HttpContext ctx, AuditRecorder recorder)
    {
        private static readonly RequestAccess Unauthenticated = new("authenticate", []);

        private bool _done;

        public Task RecordAsync(int? status)
        {
            if (_done)
            {
                return Task.CompletedTask;
            }

            _done = true;
            var code = status ?? ctx.Response.StatusCode;

            // A request refused for its key never reaches its endpoint, so it stated nothing: record the attempt.
            var access = RequestGate.Of(ctx) ?? (code == StatusCodes.Status401Unauthorized ? Unauthenticated : null);
            return access is null || !recorder.ShouldRecord(access.Action, code is 401 or 403)
                ? Task.CompletedTask
                : recorder.AppendAsync(ctx, access, code.ToString(CultureInfo.InvariantCulture), ctx.Request.Path.Value ?? "").AsTask();
        }
    }
}

/// <summary>Decides what to record and writes the entries.</summary>
internal sealed class AuditRecorder(IAuditLog log, double readSampleRate, FeatureStore store)
{
    /// <summary>Writes, materializations, applies and refusals always; successful reads at the sample rate; metadata reads not.</summary>
    public bool ShouldRecord(string action, bool denied) => denied || action switch
    {
        AccessActions.ReadOnline => readSampleRate > 0 && Random.Shared.NextDouble() < readSampleRate,
        AccessActions.WriteOnline or AccessActions.Materialize or AccessActions.Apply => true,
        _ => false,
    };

    public ValueTask<AuditRecord> AppendAsync(HttpContext ctx, RequestAccess access, string status, string endpoint)
    {
        var objects = new AuditObject[access.Objects.Count];
        for (var i = 0; i < objects.Length; i++)
        {
            objects[i] = new AuditObject(access.Objects[i].Kind, access.Objects[i].Name);
        }

        return log.AppendAsync(new AuditEntry
        {
            Time = AuditTime.Now(),
            Actor = ctx.User.Identity?.Name ?? "anonymous",
            Action = access.Action,
            Status = status,
            Remote = ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            Objects = objects,
            Details = new Dictionary<string, string>
            {
                ["endpoint"] = endpoint,
                ["registry_version"] = store.Registry.Version.ToString(CultureInfo.InvariantCulture),
            },
        }, CancellationToken.None);
    }
}

/// <summary>Records gRPC calls: unary ones when they end, each request of a push stream before its ack is sent.</summary>
internal sealed class AuditInterceptor(AuditRecorder recorder) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        TResponse response;
        try
        {
            response = await continuation(request, context);
        }
        catch (RpcException e)
        {
            await RecordAsync(context, e.StatusCode);
            throw;
        }

        await RecordAsync(context, StatusCode.OK);
        return response;
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        continuation(requestStream, new AuditingWriter<TResponse>(responseStream, context, recorder), context);

    private Task RecordAsync(ServerCallContext context, StatusCode status)
    {
        var ctx = context.GetHttpContext();
        var access = RequestGate.Of(ctx);
        return access is null || !recorder.ShouldRecord(access.Action, status is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
            ? Task.CompletedTask
            : recorder.AppendAsync(ctx, access, status.ToString(), context.Method).AsTask();
    }

    /// <summary>Records the request an ack answers before the ack is written: one record per request of the stream.</summary>
    private sealed class AuditingWriter<T>(IServerStreamWriter<T> inner, ServerCallContext context, AuditRecorder recorder) : IServerStreamWriter<T>
    {
        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(T message, CancellationToken cancellationToken)
        {
            var ctx = context.GetHttpContext();
            if (RequestGate.Of(ctx) is { } access)
            {
                // Cleared so that a later request refused before it states its access is not recorded as this one.
                ctx.Features.Set<RequestAccess>(null);
                // A stream carries pushes, which are always recorded, refused or not: the ack's error code is the status.
                var status = message is PushAck { Error: { } error } ? error.Code : "OK";
                if (recorder.ShouldRecord(access.Action, denied: false))
                {
                    await recorder.AppendAsync(ctx, access, status, context.Method);
                }
            }

            await inner.WriteAsync(message, cancellationToken);
        }
    }
}
