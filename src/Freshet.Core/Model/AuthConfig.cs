namespace Freshet.Model;

/// <summary>The <c>auth:</c> block of <c>freshet.yaml</c>: API keys on every endpoint of <c>freshet serve</c> (docs/security.md).</summary>
public sealed record AuthConfig
{
    /// <summary>Whether requests need an API key; on unless <c>freshet.yaml</c> says <c>auth: {enabled: false}</c>.</summary>
    public bool Enabled { get; init; } = true;
}
