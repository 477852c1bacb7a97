using Freshet.Aggregates;
using Freshet.Expressions;
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
        // Reads are keyed by view and pinned version: a pin and the current version of one view are two reads.
        var reads = new Dictionary<string, (FeatureView View, List<string> Features, List<int> Outputs, List<FeatureType> Types)>(StringComparer.Ordinal);
        var featureOutputs = new List<(string Name, string Field)>();
        var onDemand = new List<(OnDemandView View, OnDemandFeature Feature, int Output, string Field)>();
        var aggregationReads = new Dictionary<string, (CompiledAggregationView View, List<(int Slot, int Output)> Slots)>(StringComparer.Ordinal);

        void AddOutput(string view, int? version, string feature, string field, string text)
        {
            // A pinned reference's full name carries its pin, so view@v1:f and view:f can be asked together.
            var name = !request.FullFeatureNames ? feature : version is { } v ? $"{view}@v{v}__{feature}" : $"{view}__{feature}";
            if (featureOutputs.Any(o => o.Name == name))
            {
                throw new RequestException(field, "duplicate_feature", request.FullFeatureNames
                    ? $"'{text}' asks for '{name}' twice"
                    : $"two requested features are both named '{name}'; set full_feature_names to tell them apart");
            }

            featureOutputs.Add((name, field));
        }

        (CompiledAggregationView View, List<(int Slot, int Output)> Slots) AggregationReadOf(CompiledAggregationView compiled, int? version, string field)
        {
            var key = ReadKey(compiled.View.Name, version);
            if (aggregationReads.TryGetValue(key, out var read))
            {
                return read;
            }

            read = (compiled, []);
            aggregationReads[key] = read;
            AddJoinKeys(compiled.Keys, compiled.View.Name, field);
            return read;
        }

        void AddJoinKeys(IReadOnlyList<JoinKey> keys, string viewName, string field)
        {
            foreach (var key in keys)
            {
                var existing = joinKeys.FirstOrDefault(k => k.Name == key.Name);
                if (existing is null)
                {
                    joinKeys.Add(key);
                }
                else if (existing.Type != key.Type)
                {
                    throw new RequestException(field, "join_key_conflict", $"join key '{key.Name}' is {existing.Type} in one requested view and {key.Type} in view '{viewName}'");
                }
            }
        }

        (FeatureView View, List<string> Features, List<int> Outputs, List<FeatureType> Types) ReadOf(FeatureView fv, int? version, string field)
        {
            var key = ReadKey(fv.Name, version);
            if (reads.TryGetValue(key, out var read))
            {
                return read;
            }

            read = (fv, [], [], []);
            reads[key] = read;
            AddJoinKeys(registry.Index.JoinKeys(fv.Entities), fv.Name, field);
            return read;
        }

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

            if (view is AggregationView av)
            {
                var compiled = registry.Aggregation(av);
                var aggregationRead = AggregationReadOf(compiled, reference.Version, field);
                foreach (var f in wanted)
                {
                    AddOutput(av.Name, reference.Version, f.Name, field, text);
                    aggregationRead.Slots.Add((Array.FindIndex(compiled.Aggregations, a => a.Name == f.Name), featureOutputs.Count - 1));
                }

                continue;
            }

            if (view is OnDemandView odv)
            {
                foreach (var f in wanted)
                {
                    AddOutput(odv.Name, reference.Version, f.Name, field, text);
                    onDemand.Add((odv, odv.Features.First(x => x.Name == f.Name), featureOutputs.Count - 1, field));
                }

                continue;
            }

            var fv = (FeatureView)view;
            var read = ReadOf(fv, reference.Version, field);

            foreach (var f in wanted)
            {
                AddOutput(fv.Name, reference.Version, f.Name, field, text);
                read.Features.Add(f.Name);
                read.Types.Add(f.Type);
                read.Outputs.Add(featureOutputs.Count - 1);
            }
        }

        // On-demand features read request fields and features of other views; those not requested are read
        // into hidden columns after the visible ones (ids below zero until the column count is known).
        var hidden = new Dictionary<(string Input, string Name), int>();
        var requestInputs = new List<(string Name, FeatureType Type, int Hidden)>();
        var evaluations = new List<(CompiledExpression Expression, int Output, int[] SlotIds, FeatureType[] SlotTypes)>();
        foreach (var (odv, feature, output, field) in onDemand)
        {
            var (expression, scope) = registry.OnDemand(odv, feature);
            var slotIds = new int[scope.Inputs.Count];
            var slotTypes = new FeatureType[scope.Inputs.Count];
            foreach (var slot in expression.Slots)
            {
                var input = scope.Inputs[slot];
                slotTypes[slot] = input.Type;
                slotIds[slot] = InputColumn(input, field, odv);
            }

            evaluations.Add((expression, output, slotIds, slotTypes));
        }

        int InputColumn(ExpressionInput input, string field, OnDemandView odv)
        {
            if (registry.Index.Source(input.Input) is RequestSource)
            {
                if (!hidden.TryGetValue((input.Input, input.Name), out var h))
                {
                    h = hidden.Count;
                    hidden[(input.Input, input.Name)] = h;
                    requestInputs.Add((input.Name, input.Type, h));
                }

                return ~h;
            }

            var inputView = registry.Index.View(input.Input)?.View;
            if (inputView is AggregationView inputAggregation)
            {
                var compiled = registry.Aggregation(inputAggregation);
                var aggregationRead = AggregationReadOf(compiled, null, field);
                var slot = Array.FindIndex(compiled.Aggregations, a => a.Name == input.Name);
                var existing = aggregationRead.Slots.FindIndex(s => s.Slot == slot);
                if (existing >= 0)
                {
                    return aggregationRead.Slots[existing].Output;
                }

                if (!hidden.TryGetValue((input.Input, input.Name), out var ha))
                {
                    ha = hidden.Count;
                    hidden[(input.Input, input.Name)] = ha;
                    aggregationRead.Slots.Add((slot, ~ha));
                }

                return ~ha;
            }

            if (inputView is not FeatureView fv)
            {
                throw new RequestException(field, "bad_on_demand_feature", $"on-demand view '{odv.Name}' reads '{input.QualifiedName}', which is not a feature of a view");
            }

            var read = ReadOf(fv, null, field);
            var at = read.Features.IndexOf(input.Name);
            if (at >= 0)
            {
                return read.Outputs[at];
            }

            if (!hidden.TryGetValue((input.Input, input.Name), out var hv))
            {
                hv = hidden.Count;
                hidden[(input.Input, input.Name)] = hv;
                read.Features.Add(input.Name);
                read.Types.Add(input.Type);
                read.Outputs.Add(~hv);
            }

            return ~hv;
        }

        var names = joinKeys.Select(k => k.Name).Concat(featureOutputs.Select(o => o.Name)).ToArray();
        var offset = joinKeys.Count;
        int Column(int id) => id >= 0 ? offset + id : names.Length + ~id;
        var views = reads.Values.Select(r => new ViewRead(
            r.View.Name,
            [.. registry.Index.JoinKeys(r.View.Entities).Select(k => joinKeys.FindIndex(j => j.Name == k.Name))],
            ViewRead.Hashes(r.Features),
            [.. r.Outputs.Select(Column)],
            [.. r.Types],
            Values.Micros.Of(r.View.Ttl))).ToArray();
        var onDemandEvaluations = evaluations
            .Select(e => new OnDemandEvaluation(e.Expression, Column(e.Output), [.. e.SlotIds.Select(Column)], e.SlotTypes))
            .ToArray();
        var inputs = requestInputs.Select(i => new RequestInput(i.Name, i.Type, Column(~i.Hidden))).ToArray();
        var aggregations = aggregationReads.Values.Select(r => new AggregationRead(
            r.View,
            [.. r.View.Keys.Select(k => joinKeys.FindIndex(j => j.Name == k.Name))],
            [.. r.Slots.Select(s => s.Slot).Select(s => r.View.Aggregations[s].Resolution).Distinct().Order()],
            [.. r.Slots.Select(s => s.Slot)],
            [.. r.Slots.Select(s => Column(s.Output))])).ToArray();
        return new OnlinePlan(registry.Version, names, [.. joinKeys], views)
        {
            Aggregations = aggregations,
            ColumnCount = names.Length + hidden.Count,
            RequestInputs = inputs,
            OnDemand = onDemandEvaluations,
        };
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

    private static string ReadKey(string view, int? version) => version is { } v ? $"{view}@v{v}" : view;

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

        // A pin names the definition of that version; the data served is the view's online data, stored under the
        // current version's entities, so a version keyed by other entities cannot be served from it.
        var pinned = RegistryPlanner.PinLookup(registry.State)(reference.View, version)
            ?? throw new RequestException(field, "unknown_version", $"view '{reference.View}' has no version {version}");
        if (Entities(pinned) is { } then && Entities(current.View) is { } now && !then.SequenceEqual(now, StringComparer.Ordinal))
        {
            throw new RequestException(field, "incompatible_version",
                $"'{reference}' is keyed by [{string.Join(", ", then)}] but the view's online data by [{string.Join(", ", now)}]; version {version} cannot be served");
        }

        return pinned;

        static IReadOnlyList<string>? Entities(Definition view) => view switch
        {
            FeatureView fv => fv.Entities,
            AggregationView av => av.Entities,
            _ => null,
        };
    }
}
