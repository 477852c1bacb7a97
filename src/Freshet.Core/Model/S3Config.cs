namespace Freshet.Model;

/// <summary>
/// How <c>s3://</c> batch sources are reached: the <c>s3:</c> block of <c>freshet.yaml</c>. Every setting is
/// optional; an unset one falls back to the standard AWS environment (<c>AWS_ENDPOINT_URL_S3</c>,
/// <c>AWS_ENDPOINT_URL</c>, <c>AWS_REGION</c>, <c>AWS_DEFAULT_REGION</c>). Credentials are never read from the
/// repo: they come from the AWS credential chain (<c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c>, profiles, ...).
/// </summary>
public sealed record S3Config
{
    /// <summary>An S3-compatible endpoint (<c>http://127.0.0.1:9000</c>); null for AWS itself.</summary>
    public string? EndpointUrl { get; init; }

    /// <summary>The region requests are signed for.</summary>
    public string? Region { get; init; }

    /// <summary>
    /// Path-style addressing (<c>endpoint/bucket/key</c>) instead of virtual hosts (<c>bucket.endpoint/key</c>);
    /// null means path style exactly when a custom endpoint is set, which is what local object stores need.
    /// </summary>
    public bool? PathStyle { get; init; }
}
