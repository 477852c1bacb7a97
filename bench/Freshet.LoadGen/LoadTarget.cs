using System.Net;
using Freshet.Protos.Serving;
using Google.Protobuf;
using Grpc.Core;
using StackExchange.Redis;

namespace Freshet.LoadGen;

/// <summary>
/// One thing the generator sends requests to. <see cref="SendAsync"/> answers <c>null</c> on success or the kind
/// of error (<c>http_503</c>, <c>grpc_Unavailable</c>, <c>missing_value</c>, ...); timeouts and connection
/// errors are classified by the runner from the exception.
/// </summary>
internal interface ILoadTarget
{
    /// <summary>The name in tables, JSON and chart legends.</summary>
    string Name { get; }

    /// <summary>Sends one request and waits for the whole response.</summary>
    ValueTask<string?> SendAsync(CancellationToken cancellationToken);
}

/// <summary>An HTTP/1.1 POST of fixed body bytes; success is a 2xx whose body was read to the end.</summary>
internal sealed class HttpLoadTarget(string name, HttpClient client, string path, byte[] body, string contentType) : ILoadTarget
{
    public string Name { get; } = name;

    public async ValueTask<string?> SendAsync(CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var response = await client.PostAsync(path, content, cancellationToken).ConfigureAwait(false);
        // The whole body counts: a server that answers the headers early must still send the bytes.
        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode ? null : $"http_{(int)response.StatusCode}";
    }

    /// <summary>
    /// A client with <paramref name="connections"/> HTTP/1.1 keep-alive connections at most; requests beyond them
    /// wait in the client's queue, and that wait counts in their latency.
    /// </summary>
    public static HttpClient Client(int port, int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
    })
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        DefaultRequestVersion = HttpVersion.Version11,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = Timeout.InfiniteTimeSpan,
    };
}

/// <summary>
/// Feast's gRPC <c>GetOnlineFeatures</c> with one fixed request; success is an OK status with a non-empty answer.
/// Calls go round robin over <paramref name="invokers"/> (one per channel, each channel its own HTTP/2
/// connection). With <paramref name="parse"/> false the answer is received whole but kept as bytes, as the HTTP
/// target keeps its JSON; with true it is parsed into Feast's <c>GetOnlineFeaturesResponse</c> (5,000
/// <c>Value</c> objects in scenario b, about 1.4 ms and 800 KB per call in the generator's own process).
/// </summary>
internal sealed class GrpcLoadTarget(string name, IReadOnlyList<CallInvoker> invokers, GetOnlineFeaturesRequest request, bool parse) : ILoadTarget
{
    private const string Service = "feast.serving.ServingService";

    private static readonly Marshaller<GetOnlineFeaturesRequest> RequestMarshaller =
        Marshallers.Create<GetOnlineFeaturesRequest>(r => r.ToByteArray(), GetOnlineFeaturesRequest.Parser.ParseFrom);

    private static readonly Method<GetOnlineFeaturesRequest, GetOnlineFeaturesResponse> Parsed = new(MethodType.Unary, Service, "GetOnlineFeatures",
        RequestMarshaller, Marshallers.Create<GetOnlineFeaturesResponse>(r => r.ToByteArray(), GetOnlineFeaturesResponse.Parser.ParseFrom));

    private static readonly Method<GetOnlineFeaturesRequest, byte[]> Bytes = new(MethodType.Unary, Service, "GetOnlineFeatures",
        RequestMarshaller, Marshallers.Create<byte[]>(b => b, b => b));

    private long _next;

    public string Name { get; } = name;

    public async ValueTask<string?> SendAsync(CancellationToken cancellationToken)
    {
        var invoker = invokers[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)invokers.Count)];
        var options = new CallOptions(cancellationToken: cancellationToken);
        try
        {
            if (parse)
            {
                using var call = invoker.AsyncUnaryCall(Parsed, null, options, request);
                return (await call.ResponseAsync.ConfigureAwait(false)).Results.Count > 0 ? null : "empty_response";
            }

            using var raw = invoker.AsyncUnaryCall(Bytes, null, options, request);
            return (await raw.ResponseAsync.ConfigureAwait(false)).Length > 0 ? null : "empty_response";
        }
        catch (RpcException e)
        {
            // The runner's timeout cancels the call, which gRPC reports as status Cancelled.
            return e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested ? "timeout" : $"grpc_{e.StatusCode}";
        }
    }
}

/// <summary>The store's limit: one <c>MGET</c> of the same Redis keys Freshet's Redis store reads for the request.</summary>
internal sealed class RedisMgetTarget(string name, IDatabase db, RedisKey[] keys) : ILoadTarget
{
    public string Name { get; } = name;

    public async ValueTask<string?> SendAsync(CancellationToken cancellationToken)
    {
        var values = await db.StringGetAsync(keys).WaitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var value in values)
        {
            if (value.IsNull)
            {
                return "missing_value";
            }
        }

        return null;
    }
}
