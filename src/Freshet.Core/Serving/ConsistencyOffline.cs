using Freshet.Model;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// The offline side of a <see cref="ConsistencyCheck"/>: a view's features for every entity at every time, as
/// training data computes them. Without one (<see cref="ConsistencyOptions.Offline"/> null) the check computes them
/// in memory from the events (aggregation views with <see cref="Aggregates.OfflineAggregation"/>, plain views with
/// Feast's point-in-time rule); the DuckDB engine implements it with the code <c>freshet historical</c> runs.
/// </summary>
public interface IConsistencyOffline
{
    /// <summary>
    /// The values <c>[entity][time][feature]</c>, in the order of <see cref="ConsistencyOfflineRequest.Entities"/>,
    /// <see cref="ConsistencyOfflineRequest.Times"/> and <see cref="ConsistencyOfflineRequest.Features"/>, each in
    /// its declared type's kind or null.
    /// </summary>
    Task<FeatureValue[][][]> ComputeAsync(ConsistencyOfflineRequest request, CancellationToken cancellationToken = default);
}

/// <summary>What the offline side of a consistency check computes.</summary>
/// <param name="Registry">The registry version checked.</param>
/// <param name="RepoDirectory">The repo directory (relative source paths resolve against it).</param>
/// <param name="View">The view checked.</param>
/// <param name="Features">The view's features, in the view's order.</param>
/// <param name="Keys">The view's join keys.</param>
/// <param name="Entities">Each entity's join-key values, in their declared types.</param>
/// <param name="Times">The times to compute at, ascending, in microseconds since the epoch.</param>
/// <param name="Events">The events (rows of the view's source) the online side replayed.</param>
public sealed record ConsistencyOfflineRequest(ServingRegistry Registry, string RepoDirectory, string View, IReadOnlyList<string> Features,
    IReadOnlyList<JoinKey> Keys, IReadOnlyList<FeatureValue[]> Entities, IReadOnlyList<long> Times, ColumnTable Events);
