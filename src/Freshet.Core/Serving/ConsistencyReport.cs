using Freshet.Values;

namespace Freshet.Serving;

/// <summary>Settings of a <see cref="ConsistencyCheck"/>.</summary>
public sealed record ConsistencyOptions
{
    /// <summary>
    /// The tolerance of float sums, means, standard deviations and variances: equal when
    /// <c>|online − offline| ≤ RelativeTolerance × max(1, |offline|)</c> (DESIGN §3: 1e-12). Every other value is
    /// compared exactly.
    /// </summary>
    public double RelativeTolerance { get; init; } = 1e-12;

    /// <summary>How many mismatches the report lists (all are counted).</summary>
    public int MaxExamples { get; init; } = 10;

    /// <summary>The most events applied (or rows written) online in one batch.</summary>
    public int BatchSize { get; init; } = 1000;

    /// <summary>
    /// Computes the offline side; null computes it in memory from the events (aggregation views with
    /// <see cref="Aggregates.OfflineAggregation"/>, plain views with Feast's rule). <c>freshet consistency</c> sets the
    /// DuckDB engine's, which runs the code <c>freshet historical</c> runs.
    /// </summary>
    public IConsistencyOffline? Offline { get; init; }

    /// <summary>
    /// A seam for tests: called with (feature, online value) before the comparison, so a test can alter what the
    /// online side served and see that the check reports it.
    /// </summary>
    internal Func<string, FeatureValue, FeatureValue>? AlterOnline { get; init; }
}

/// <summary>One (entity, time, feature) where the online and offline values differ.</summary>
/// <param name="Entity">The entity's join keys as <c>name=value</c>, comma-separated.</param>
/// <param name="At">The time both sides were read at.</param>
/// <param name="Feature">The feature (aggregation output name).</param>
/// <param name="Online">What the online store served at <paramref name="At"/>.</param>
/// <param name="Offline">What the offline path computed at <paramref name="At"/>.</param>
public sealed record ConsistencyMismatch(string Entity, DateTimeOffset At, string Feature, FeatureValue Online, FeatureValue Offline);

/// <summary>The comparison of one feature over every (entity, time).</summary>
/// <param name="Feature">The feature name.</param>
/// <param name="Function">The aggregation function (<c>sum</c>, <c>last_n</c>, ...), or <c>latest</c> for a plain view's feature.</param>
/// <param name="Tolerant">True when compared within the relative tolerance (float sums, means, stddev, variance).</param>
/// <param name="Compared">Values compared.</param>
/// <param name="Mismatches">Values that differ (beyond the tolerance, or one null and the other not).</param>
/// <param name="NonNull">Values that were not null on both sides (so the comparison is not vacuous).</param>
/// <param name="MaxAbsoluteDifference">The largest |online − offline| of numeric values present on both sides.</param>
/// <param name="MaxRelativeDifference">The largest |online − offline| / max(|online|, |offline|) of those values.</param>
public sealed record FeatureConsistency(string Feature, string Function, bool Tolerant, long Compared, long Mismatches, long NonNull,
    double MaxAbsoluteDifference, double MaxRelativeDifference);

/// <summary>What a <see cref="ConsistencyCheck"/> found.</summary>
/// <param name="View">The view checked.</param>
/// <param name="Events">Rows of the event table.</param>
/// <param name="BadRows">
/// Rows that are not events of the view (a missing join key or event time, a wrong type); the online side does not
/// use them (an in-memory offline side neither; a DuckDB one reads the file as training data would, and any effect
/// they have there shows as mismatches).
/// </param>
/// <param name="OnlineRejected">
/// Events the online engine refused (too late or too far in the future for its clock; always 0 for plain views). The replay keeps the clock
/// at the newest event applied, so this is 0 unless the file holds out-of-order events older than the retention;
/// the offline side still counts such events, so any effect they have shows as mismatches.
/// </param>
/// <param name="Entities">Distinct entities in the events.</param>
/// <param name="Times">Distinct times read at.</param>
/// <param name="Compared">(entity, time, feature) values compared.</param>
/// <param name="Mismatches">Values that differ.</param>
/// <param name="Features">Per feature, in the view's order.</param>
/// <param name="Examples">The first mismatches, in time then entity order.</param>
public sealed record ConsistencyReport(string View, long Events, long BadRows, long OnlineRejected, int Entities, int Times, long Compared, long Mismatches,
    IReadOnlyList<FeatureConsistency> Features, IReadOnlyList<ConsistencyMismatch> Examples);
