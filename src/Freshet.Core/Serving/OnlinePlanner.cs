using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Serving;

/// <summary>Resolves a request's feature references against one registry version into an <see cref="OnlinePlan"/>.</summary>
internal static class OnlinePlanner
{
    public static OnlinePlan Build(ServingRegistry registry, OnlineRequest request)
    {
        var refs = References(registry, request);
        var outputs = new List<string>();
        var joinKeys = new List<JoinKey>();
        var reads = new Dictionary<string, (FeatureView View, List<string> Features, List<int> Outputs, List<FeatureType> Types)>(StringComparer.Ordinal);
        var featureOutputs = new List<(string Name, string Field)>();

        for (var i = 0; i < refs.Count; i++)
        {
            var (text, field) = refs[i];
            if (!FeatureReference.TryParse(text, out var reference, out var error))
            {
                throw new RequestException(field, "bad_reference", error);
            }

            var view = ResolveView(registry, reference, field);
            var features = registry.Index.FeaturesOf(view);
            var wanted = reference.Feature is null ? features : features.Where(f => f.Name == reference.Feature).ToList();
            if (wanted.Count == 0)
            {
                var known = string.Join(", ", features.Select(f => f.Name));
                throw new RequestException(field, "unknown_feature", $"view '{reference.View}' has no feature '{reference.Feature}'; its features: {known}");
            }

            if (view is AggregationView)
            {
                throw new RequestException(field, "not_served", $"'{text}' is a feature of aggregation view '{view.Name}'; aggregation views are served by the streaming engine, which this version of Freshet does not have yet");
            }

            if (view is OnDemandView)
            {
                throw new RequestException(field, "not_served", $"'{text}' is an on-demand feature; this version of Freshet does not evaluate on-demand views yet");
            }

            var fv = (FeatureView)view;
            if (!reads.TryGetValue(fv.Name, out var read))
            {
                read = (fv, [], [], []);
                reads[fv.Name] = read;
                foreach (var key in registry.Index.JoinKeys(fv.Entities))
                {
                    var existing = joinKeys.FirstOrDefault(k => k.Name == key.Name);
                    if (existing is null)
                    {
                        joinKeys.Add(key);
                    }
                    else if (existing.Type != key.Type)
                    {
                        throw new RequestException(field, "join_key_conflict", $"join key '{key.Name}' is {existing.Type} in one requested view and {key.Type} in view '{fv.Name}'");
                    }
                }
            }

            foreach (var f in wanted)
            {
                var name = request.FullFeatureNames ? $"{fv.Name}__{f.Name}" : f.Name;
                if (featureOutputs.Any(o => o.Name == name))
                {
                    throw new RequestException(field, "duplicate_feature", request.FullFeatureNames
                        ? $"'{text}' asks for '{name}' twice"
                        : $"two requested features are both named '{name}'; set full_feature_names to tell them apart");
                }

                featureOutputs.Add((name, field));
                read.Features.Add(f.Name);
                read.Types.Add(f.Type);
                read.Outputs.Add(featureOutputs.Count - 1);
            }
        }

        var names = joinKeys.Select(k => k.Name).Concat(featureOutputs.Select(o => o.Name)).ToArray();
        var offset = joinKeys.Count;
        var views = reads.Values.Select(r => new ViewRead(
            r.View.Name,
            [.. registry.Index.JoinKeys(r.View.Entities).Select(k => joinKeys.FindIndex(j => j.Name == k.Name))],
            ViewRead.Hashes(r.Features),
            [.. r.Outputs.Select(o => o + offset)],
            [.. r.Types],
            Values.Micros.Of(r.View.Ttl))).ToArray();
        return new OnlinePlan(registry.Version, names, [.. joinKeys], views);
    }

    private static List<(string Text, string Field)> References(ServingRegistry registry, OnlineRequest request)
    {
        if (request.FeatureService is not null && request.Features is not null)
        {
            throw new RequestException("features", "ambiguous_request", "give either 'features' or 'feature_service', not both");
        }

        if (request.FeatureService is { } serviceName)
        {
            var service = registry.Index.Service(serviceName)
                ?? throw new RequestException("feature_service", "unknown_feature_service", $"unknown feature service '{serviceName}'");
            return [.. service.Features.Select(f => (f, "feature_service"))];
        }

        if (request.Features is not { Count: > 0 } features)
        {
            throw new RequestException("features", "no_features", "give 'features' (a list of view:feature) or 'feature_service'");
        }

        return [.. features.Select((f, i) => (f, $"features[{i}]"))];
    }

    private static Definition ResolveView(ServingRegistry registry, FeatureReference reference, string field)
    {
        if (registry.Index.View(reference.View) is not { } current)
        {
            throw new RequestException(field, "unknown_view", $"unknown feature view '{reference.View}'");
        }

        if (reference.Version is not { } version)
        {
            return current.View;
        }

        // A pin names the definition of that version; the data served is the view's online data.
        return RegistryPlanner.PinLookup(registry.State)(reference.View, version)
            ?? throw new RequestException(field, "unknown_version", $"view '{reference.View}' has no version {version}");
    }
}
