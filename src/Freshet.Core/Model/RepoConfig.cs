namespace Freshet.Model;

/// <summary>The settings of a feature repo, read from <c>freshet.yaml</c>.</summary>
public sealed record RepoConfig(string Project)
{
    /// <summary>The default file name of the repo settings.</summary>
    public const string FileName = "freshet.yaml";

    /// <summary>Where Freshet keeps its registry, online data and logs, relative to the repo.</summary>
    public string DataDirectory { get; init; } = "data";

    /// <summary>The online store.</summary>
    public StoreConfig OnlineStore { get; init; } = new("rocksdb");

    /// <summary>The offline store.</summary>
    public StoreConfig OfflineStore { get; init; } = new("duckdb");

    /// <summary>How <c>s3://</c> batch sources are reached.</summary>
    public S3Config S3 { get; init; } = new();

    /// <summary>The registry store.</summary>
    public StoreConfig Registry { get; init; } = new("file");

    /// <summary>Serving settings.</summary>
    public ServerConfig Server { get; init; } = new();

    /// <summary>Metrics and tracing (docs/observability.md).</summary>
    public ObservabilityConfig Observability { get; init; } = new();

    /// <summary>The audit trail (docs/audit.md).</summary>
    public AuditConfig Audit { get; init; } = new();

    /// <summary>API keys on the server (docs/security.md); on by default.</summary>
    public AuthConfig Auth { get; init; } = new();

    /// <summary>Sampled logging of served feature vectors (<c>feature_logging:</c>, docs/quality.md).</summary>
    public FeatureLoggingConfig FeatureLogging { get; init; } = new();

    /// <summary>
    /// How long a pushed row's idempotency key dedupes (<c>idempotency_window</c>, default 24h): a key seen less
    /// than this long ago skips the row; older keys are collected.
    /// </summary>
    public TimeSpan IdempotencyWindow { get; init; } = DefaultIdempotencyWindow;

    /// <summary>The default <see cref="IdempotencyWindow"/>: a day covers a client's retries across an outage or a restart.</summary>
    public static readonly TimeSpan DefaultIdempotencyWindow = TimeSpan.FromHours(24);

    /// <summary>Online store types this version knows.</summary>
    public static readonly IReadOnlyList<string> OnlineStoreTypes = ["rocksdb", "memory", "redis", "postgres"];

    /// <summary>Offline store types this version knows.</summary>
    public static readonly IReadOnlyList<string> OfflineStoreTypes = ["duckdb"];

    /// <summary>Registry store types this version knows.</summary>
    public static readonly IReadOnlyList<string> RegistryTypes = ["file", "postgres"];
}

/// <summary>Which store and how to reach it.</summary>
public sealed record StoreConfig(string Type)
{
    /// <summary>A path (embedded stores), relative to the data directory.</summary>
    public string? Path { get; init; }

    /// <summary>A connection string (server stores).</summary>
    public string? ConnectionString { get; init; }

    /// <summary>The in-process cache (L1) in front of the online store, when configured (docs/caching.md).</summary>
    public CacheConfig? Cache { get; init; }

    /// <summary>The durable tier (L3) behind the online store, which then is the fast tier (L2), when configured.</summary>
    public StoreConfig? Durable { get; init; }
}

/// <summary>The online store's in-process cache (<c>online_store.cache</c>, docs/caching.md).</summary>
public sealed record CacheConfig
{
    /// <summary>The most entries it holds.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>The most bytes its entries account for.</summary>
    public long MaxBytes { get; init; } = 64L << 20;

    /// <summary>How old an entry may be and still be served.</summary>
    public TimeSpan MaxStaleness { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How writes made by other processes reach the cache: <c>none</c> or <c>pubsub</c> (Redis).</summary>
    public string Invalidation { get; init; } = "none";

    /// <summary>Invalidation kinds this version knows.</summary>
    public static readonly IReadOnlyList<string> InvalidationKinds = ["none", "pubsub"];
}

/// <summary>Where <c>freshet serve</c> listens.</summary>
public sealed record ServerConfig
{
    /// <summary>The address to bind.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The HTTP port (Feast's default).</summary>
    public int Port { get; init; } = 6566;

    /// <summary>The gRPC port.</summary>
    public int GrpcPort { get; init; } = 6570;
}
