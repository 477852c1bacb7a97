using Freshet.Security;

namespace Freshet.Server.Governance;

/// <summary>
/// API keys on a server (docs/security.md): every endpoint but the open probes needs a valid key, and the key's
/// grants decide what it may do. <see cref="FreshetServerOptions.Auth"/> null means no keys (an embedded server in
/// a test or a process of one's own); <c>freshet serve</c> sets it exactly as <c>freshet.yaml</c> says.
/// </summary>
public sealed record ApiKeyAuthOptions(IApiKeyStore Store)
{
    /// <summary>What <c>freshet serve</c> says at start-up when <c>freshet.yaml</c> turns keys off.</summary>
    public const string OffWarning = "warning: auth is off (auth: {enabled: false} in freshet.yaml): every request is served without an API key. Turn it on for anything shared (docs/security.md).";

    /// <summary>How often the key store is checked for a key made or revoked elsewhere.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Paths served without a key: liveness and readiness probes and Prometheus scraping carry no feature data.</summary>
    public IReadOnlySet<string> OpenPaths { get; init; } = new HashSet<string>(StringComparer.Ordinal) { "/health", "/ready", "/metrics" };
}
