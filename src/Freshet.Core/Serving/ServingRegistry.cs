using System.Collections.Concurrent;
using Freshet.Expressions;
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
    private readonly ConcurrentDictionary<(string View, string Feature, string Expression), (CompiledExpression, ExpressionScope)> _expressions = new();

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

    /// <summary>
    /// The compiled expression of an on-demand feature and the scope its slots refer to, compiled once per
    /// registry version (and per pinned definition). Apply validated it; a failure here means the registry
    /// holds a definition this version cannot compile, reported as a request error rather than a crash.
    /// </summary>
    internal (CompiledExpression Expression, ExpressionScope Scope) OnDemand(OnDemandView view, OnDemandFeature feature) =>
        _expressions.GetOrAdd((view.Name, feature.Name, feature.Expression), _ =>
        {
            var scope = ExpressionScope.ForView(view, Index);
            var compiled = ExpressionCompiler.Compile(feature.Expression, scope, feature.Type);
            return compiled.Success
                ? (compiled.Expression, scope)
                : throw new RequestException("features", "bad_on_demand_feature", $"on-demand feature '{view.Name}:{feature.Name}' does not compile: {string.Join("; ", compiled.Errors.Select(e => e.Message))}");
        });

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
