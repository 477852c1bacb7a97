using System.Collections.Concurrent;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Serving;

/// <summary>
/// One registry version as serving sees it: the live definitions, indexed, and the plans made from them.
/// Replaced whole when the registry changes, so a request never mixes two versions.
/// </summary>
public sealed class ServingRegistry
{
    private readonly ConcurrentDictionary<string, OnlinePlan> _plans = new(StringComparer.Ordinal);

    /// <summary>Indexes a registry state.</summary>
    public ServingRegistry(RegistryState state, RepoConfig config)
    {
        State = state;
        Index = new RepoIndex(state.ToDefinition(config));
    }

    /// <summary>The registry state.</summary>
    public RegistryState State { get; }

    /// <summary>The live definitions.</summary>
    public RepoIndex Index { get; }

    /// <summary>The registry version.</summary>
    public long Version => State.Version;

    /// <summary>The number of cached plans (for tests and metrics).</summary>
    public int CachedPlans => _plans.Count;

    internal OnlinePlan GetPlan(OnlineRequest request)
    {
        var key = PlanKey(request);
        if (_plans.TryGetValue(key, out var plan))
        {
            return plan;
        }

        plan = OnlinePlanner.Build(this, request);

        // Bounded: a client sending ever new feature lists must not grow memory without end.
        if (_plans.Count < 10_000)
        {
            _plans.TryAdd(key, plan);
        }

        return plan;
    }

    private static string PlanKey(OnlineRequest request)
    {
        if (request.FeatureService is { } service)
        {
            return (request.FullFeatureNames ? "S1:" : "S0:") + service;
        }

        var features = request.Features ?? [];
        return (request.FullFeatureNames ? "F1:" : "F0:") + string.Join('\n', features);
    }
}
