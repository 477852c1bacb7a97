using Amazon.Runtime;
using Freshet.Model;

namespace Freshet.DuckDb;

/// <summary>
/// How <see cref="S3ObjectCache"/> reaches S3: the repo's <c>s3:</c> settings completed from the standard AWS
/// environment. A file source's own <c>s3_endpoint</c> overrides <see cref="EndpointUrl"/> for that source.
/// </summary>
public sealed record S3Settings
{
    /// <summary>The region used when neither the repo nor the environment names one.</summary>
    public const string DefaultRegion = "us-east-1";

    /// <summary>An S3-compatible endpoint; null for AWS itself.</summary>
    public string? EndpointUrl { get; init; }

    /// <summary>The region requests are signed for.</summary>
    public string Region { get; init; } = DefaultRegion;

    /// <summary>Path-style addressing; null means path style exactly when an endpoint is set.</summary>
    public bool? PathStyle { get; init; }

    /// <summary>Explicit credentials; null uses the AWS credential chain (environment variables, profiles, ...).</summary>
    public AWSCredentials? Credentials { get; init; }

    /// <summary>How many objects are downloaded at once.</summary>
    public int MaxConcurrentDownloads { get; init; } = 4;

    /// <summary>How long one request may wait for its response headers before it fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long connecting to the endpoint may take before the attempt fails.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a failed request is retried (connection errors, throttling, 5xx).</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>
    /// The settings of <c>freshet.yaml</c>'s <c>s3:</c> block; unset values come from <c>AWS_ENDPOINT_URL_S3</c>,
    /// <c>AWS_ENDPOINT_URL</c>, <c>AWS_REGION</c> and <c>AWS_DEFAULT_REGION</c>.
    /// </summary>
    public static S3Settings From(S3Config? config, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        return new S3Settings
        {
            EndpointUrl = NonEmpty(config?.EndpointUrl) ?? NonEmpty(environment("AWS_ENDPOINT_URL_S3")) ?? NonEmpty(environment("AWS_ENDPOINT_URL")),
            Region = NonEmpty(config?.Region) ?? NonEmpty(environment("AWS_REGION")) ?? NonEmpty(environment("AWS_DEFAULT_REGION")) ?? DefaultRegion,
            PathStyle = config?.PathStyle,
        };
    }
}
