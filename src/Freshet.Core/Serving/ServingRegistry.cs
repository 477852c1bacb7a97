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
    private readonly ConcurrentDictionary<PlanKey, OnlinePlan> _plans = new();

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
