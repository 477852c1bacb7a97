namespace Freshet.Serving;

/// <summary>
/// A training-data request (Feast's <c>get_historical_features</c>): an entity file whose rows carry the join keys,
/// a time column (<c>event_timestamp</c> unless <see cref="TimestampColumn"/> names another) and any other columns
/// (labels), and the features to add to each row as of its time.
/// </summary>
public sealed record HistoricalRequest
{
    /// <summary>The default column of the entity file that holds each row's time <c>T</c> (Feast's name).</summary>
    public const string DefaultTimestampColumn = "event_timestamp";

    /// <summary>The column of the entity file that holds each row's time <c>T</c>; <see cref="DefaultTimestampColumn"/> unless set.</summary>
    public string TimestampColumn { get; init; } = DefaultTimestampColumn;

    /// <summary>
    /// Reads a view's rows from another file instead of its batch source: view name to a path (Parquet, or CSV when it
    /// ends in <c>.csv</c>; relative to the current directory; a glob or <c>s3://</c> is fine) with the batch source's
    /// columns, read with its time columns. For replays and checks (<c>freshet consistency</c>); null reads the sources.
    /// </summary>
    public IReadOnlyDictionary<string, string>? SourceOverrides { get; init; }

    /// <summary>The entity file: Parquet, or CSV when it ends in <c>.csv</c>; a glob reads several files as one.</summary>
    public required string EntitiesPath { get; init; }

    /// <summary>Where the result is written (Parquet); replaced when it exists.</summary>
    public required string OutputPath { get; init; }

    /// <summary><c>view:feature</c> references (or null when <see cref="FeatureService"/> is set).</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>A feature service name (or null when <see cref="Features"/> is set).</summary>
    public string? FeatureService { get; init; }

    /// <summary>Output columns named <c>view__feature</c> instead of <c>feature</c>.</summary>
    public bool FullFeatureNames { get; init; }
}

/// <summary>What a training-data run wrote.</summary>
/// <param name="OutputPath">The Parquet file written.</param>
/// <param name="Rows">Its rows: one per entity row, in the entity file's order.</param>
/// <param name="Columns">Its columns: the entity file's, then the features.</param>
/// <param name="Elapsed">How long the run took.</param>
public sealed record HistoricalResult(string OutputPath, long Rows, IReadOnlyList<string> Columns, TimeSpan Elapsed);

/// <summary>
/// Produces point-in-time-correct training data (DESIGN §3): plain views by Feast's rule, aggregation views by
/// the engine's code as of each row's time, on-demand views by the online evaluator. Implemented by the offline
/// engine (DuckDB).
/// </summary>
public interface IHistoricalRetrieval
{
    /// <summary>
    /// Writes the entity rows with the requested features as of each row's time to
    /// <see cref="HistoricalRequest.OutputPath"/>. Relative paths of sources are resolved against
    /// <paramref name="repoDirectory"/>. <paramref name="progress"/> gets one report stream per stage (the
    /// <c>View</c> of a report names the stage: a view, <c>entities</c>, <c>on-demand</c>, <c>write</c>). Bad
    /// input is a <see cref="RequestException"/> naming the file, column or reference.
    /// </summary>
    Task<HistoricalResult> GetHistoricalFeaturesAsync(ServingRegistry registry, string repoDirectory, HistoricalRequest request,
        IProgress<MaterializeProgress>? progress = null, CancellationToken cancellationToken = default);
}
