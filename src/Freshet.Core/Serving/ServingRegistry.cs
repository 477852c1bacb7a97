using System.Collections.Concurrent;
using Freshet.Aggregates;
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
    private readonly ConcurrentDictionary<PlanKey, OnlinePlan> _plans = new();
    private readonly ConcurrentDictionary<(string View, string Feature, string Expression), (CompiledExpression, ExpressionScope)> _expressions = new();
    private readonly ConcurrentDictionary<string, CompiledAggregationView> _aggregations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Quality.FieldCheck[]> _checks = new(StringComparer.Ordinal);

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
        // Looked up through the request's own feature list, so a cached plan costs no key built per request;
        // the key stored with a new plan owns a copy of the list (the caller may reuse its list).
        if (_plans.TryGetValue(new PlanKey(request.FeatureService, request.Features, request.FullFeatureNames), out var plan))
        {
            return plan;
        }

        plan = OnlinePlanner.Build(this, request);

        // Bounded: a client sending ever new feature lists must not grow memory without end.
        if (_plans.Count < 10_000)
        {
            string[]? features = request.FeatureService is null ? [.. request.Features ?? []] : null;
            _plans.TryAdd(new PlanKey(request.FeatureService, features, request.FullFeatureNames), plan);
        }

        return plan;
    }

    /// <summary>
    /// The compiled expression of an on-demand feature and the scope its slots refer to, compiled once per
    /// registry version (and per pinned definition). Apply validated it; a failure here means the registry
    /// holds a definition this version cannot compile, reported as a request error rather than a crash.
    /// </summary>
    /// <summary>An aggregation view prepared for the engine, once per registry version (pinned older definitions are compiled each time).</summary>
    public CompiledAggregationView Aggregation(AggregationView view) =>
        ReferenceEquals(Index.View(view.Name)?.View, view)
            ? _aggregations.GetOrAdd(view.Name, _ => CompiledAggregationView.Compile(view, Index))
            : CompiledAggregationView.Compile(view, Index); // a pinned older definition: rare, not cached

    /// <summary>The data-quality checks of a plain view, compiled once per registry version (docs/quality.md#rules).</summary>
    public Quality.FieldCheck[] Checks(FeatureView view) =>
        ReferenceEquals(Index.View(view.Name)?.View, view)
            ? _checks.GetOrAdd(view.Name, _ => Quality.ViewChecks.For(view, Index))
            : Quality.ViewChecks.For(view, Index);

    internal (CompiledExpression Expression, ExpressionScope Scope) OnDemand(OnDemandView view, OnDemandFeature feature) =>
        _expressions.GetOrAdd((view.Name, feature.Name, feature.Expression), _ =>
        {
            var scope = ExpressionScope.ForView(view, Index);
            var compiled = ExpressionCompiler.Compile(feature.Expression, scope, feature.Type);
            return compiled.Success
                ? (compiled.Expression, scope)
                : throw new RequestException("features", "bad_on_demand_feature", $"on-demand feature '{view.Name}:{feature.Name}' does not compile: {string.Join("; ", compiled.Errors.Select(e => e.Message))}");
        });

    /// <summary>
    /// What a plan depends on: the feature service, or else the feature references in order (null and empty
    /// are the same list), and the naming of outputs.
    /// </summary>
    private readonly struct PlanKey(string? service, IReadOnlyList<string>? features, bool fullFeatureNames) : IEquatable<PlanKey>
    {
        private readonly string? _service = service;
        private readonly IReadOnlyList<string>? _features = service is null ? features : null;
        private readonly bool _fullFeatureNames = fullFeatureNames;

        public bool Equals(PlanKey other)
        {
            if (_fullFeatureNames != other._fullFeatureNames || !string.Equals(_service, other._service, StringComparison.Ordinal))
            {
                return false;
            }

            var count = _features?.Count ?? 0;
            if (count != (other._features?.Count ?? 0))
            {
                return false;
            }

            for (var i = 0; i < count; i++)
            {
                if (!string.Equals(_features![i], other._features![i], StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }

        public override bool Equals(object? obj) => obj is PlanKey other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            hash.Add(_fullFeatureNames);
            hash.Add(_service);
            var count = _features?.Count ?? 0;
            hash.Add(count);
            for (var i = 0; i < count; i++)
            {
                hash.Add(_features![i]);
            }

            return hash.ToHashCode();
        }
    }
}
