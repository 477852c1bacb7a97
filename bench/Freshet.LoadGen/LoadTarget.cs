using System.Net;
using Freshet.Protos.Serving;
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
/// Feast's gRPC <c>GetOnlineFeatures</c> with one fixed request; success is an OK status. Calls go round robin over
/// <paramref name="clients"/> (one per channel, each channel its own HTTP/2 connection).
/// </summary>
internal sealed class GrpcLoadTarget(string name, IReadOnlyList<ServingService.ServingServiceClient> clients, GetOnlineFeaturesRequest request) : ILoadTarget
{
    private long _next;

    public string Name { get; } = name;

    public async ValueTask<string?> SendAsync(CancellationToken cancellationToken)
    {
        var client = clients[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)clients.Count)];
        try
        {
            using var call = client.GetOnlineFeaturesAsync(request, cancellationToken: cancellationToken);
            var response = await call.ResponseAsync.ConfigureAwait(false);
            return response.Results.Count > 0 ? null : "empty_response";
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
