using Freshet.Model;

namespace Freshet.Serving;

/// <summary>
/// Reads a plain feature view's batch source for materialization: for each entity, the latest row whose
/// event time is in [start, end), ties broken by the greatest created time, delivered in batches.
/// Implemented by the offline engine (DuckDB).
/// </summary>
public interface IOfflineSource
{
    /// <summary>
    /// The latest row per entity key of <paramref name="view"/> within the interval, as batches of columns:
    /// the view's join keys, its features, and the event (and created, when the source has one) timestamp
    /// columns under their source names. <paramref name="source"/> paths are relative to <paramref name="repoDirectory"/>.
    /// </summary>
    IAsyncEnumerable<ColumnTable> ReadLatestAsync(FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string repoDirectory,
        DateTimeOffset start, DateTimeOffset end, int batchSize, CancellationToken cancellationToken = default);

    /// <summary>
    /// How many rows <see cref="ReadLatestAsync"/> would deliver for the same arguments (the number of distinct
    /// entity keys in the interval), for progress and ETA; null when the engine cannot tell cheaply.
    /// </summary>
    ValueTask<long?> CountLatestAsync(FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string repoDirectory,
        DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default) => ValueTask.FromResult<long?>(null);
}
