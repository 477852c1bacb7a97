namespace Freshet.Redis;

/// <summary>How <see cref="RedisOnlineStore"/> lays out its keys and batches its commands.</summary>
public sealed record RedisOnlineStoreOptions
{
    /// <summary>The default key prefix.</summary>
    public const string DefaultKeyPrefix = "fr:";

    /// <summary>The default number of rows one script call handles.</summary>
    public const int DefaultRowsPerScript = 256;

    /// <summary>
    /// Text every key starts with (after the empty hash tag <c>{}</c>), so several Freshet projects, or other
    /// applications, can share one Redis. Keep it free of glob characters for readable <c>SCAN</c> patterns;
    /// they are escaped either way.
    /// </summary>
    public string KeyPrefix { get; init; } = DefaultKeyPrefix;

    /// <summary>
    /// Rows per script call (newest-wins writes, puts, swaps) on keys of one hash slot: bigger batches spend
    /// less per row on script dispatch but hold the server's single thread longer.
    /// </summary>
    public int RowsPerScript { get; init; } = DefaultRowsPerScript;

    /// <summary>Keys asked for per <c>SCAN</c> page when deleting or scanning a view.</summary>
    public int ScanPageSize { get; init; } = 1000;
}
