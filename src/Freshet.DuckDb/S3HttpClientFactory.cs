using Amazon.Runtime;

namespace Freshet.DuckDb;

/// <summary>
/// HTTP clients for S3 with a connect timeout of their own: an endpoint that drops packets fails after
/// <see cref="S3Settings.ConnectTimeout"/> instead of the whole request timeout, per attempt.
/// </summary>
internal sealed class S3HttpClientFactory(TimeSpan connectTimeout) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = connectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            // S3 signs the exact request: let the SDK see redirects (a wrong region answers 301).
            AllowAutoRedirect = false,
        };
        var client = new HttpClient(handler, disposeHandler: true);
        if (clientConfig.Timeout is { } timeout)
        {
            client.Timeout = timeout;
        }

        return client;
    }

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    public override string GetConfigUniqueString(IClientConfig clientConfig) => $"freshet-s3:{connectTimeout.Ticks}:{clientConfig.Timeout?.Ticks}";
}
