using System.Text.Json.Nodes;
using Freshet.Model;

namespace Freshet.Registry;

public static partial class RegistryPlanner
{
    private sealed class Diff
    {
        public List<string> Details { get; } = [];

        public List<string> Breaking { get; } = [];

        public string? Drops { get; set; }

        /// <summary>Stored rows no longer match the definition (other keys or types).</summary>
        public bool StoredRowsMismatch { get; set; }
    }

    private static (IReadOnlyList<string> Details, IReadOnlyList<string> Breaking, string? Drops) Compare(ObjectKind kind, JsonObject old, JsonObject spec, bool stateful)
    {
        var diff = new Diff();
        var keys = old.Select(p => p.Key).Union(spec.Select(p => p.Key)).Order(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            var a = old[key];
            var b = spec[key];
            if (SpecJson.ToCanonicalString(a) == SpecJson.ToCanonicalString(b))
            {
                continue;
            }

            switch ((kind, key))
            {
                case (ObjectKind.Entity, "join_keys"):
                    diff.Details.Add($"join_keys: {Short(a)} -> {Short(b)}");
                    diff.Breaking.Add($"join keys change from {KeyList(a)} to {KeyList(b)}: stored keys no longer match");
                    break;
                case (ObjectKind.FeatureView or ObjectKind.AggregationView, "entities"):
                    diff.Details.Add($"entities: {Short(a)} -> {Short(b)}");
                    diff.Breaking.Add($"entities change from {Short(a)} to {Short(b)}: the entity key of every row changes");
                    diff.StoredRowsMismatch = true;
                    break;
                case (ObjectKind.FeatureView, "schema"):
                    CompareFields(a, b, "feature", diff, breakingChanges: true);
                    break;
                case (ObjectKind.OnDemandView, "features"):
                    CompareFields(a, b, "feature", diff, breakingChanges: true);
                    break;
                case (ObjectKind.Source, "schema"):
                    CompareFields(a, b, "column", diff, breakingChanges: false);
                    break;
                case (ObjectKind.FeatureService, "features"):
                    CompareList(a, b, diff);
                    break;
                case (ObjectKind.AggregationView, "aggregations" or "hop"):
                    // Compared below, on effective hops, once for both keys.
                    break;
                case (_, "online") when b?.GetValue<bool>() == false:
                    diff.Details.Add("online: true -> false");
                    diff.Drops = "it is no longer online: its online data is removed";
                    break;
                default:
                    diff.Details.Add($"{key}: {Short(a)} -> {Short(b)}");
                    break;
            }
        }

        if (kind == ObjectKind.AggregationView)
        {
            CompareAggregations((AggregationView)SpecJson.FromNode(kind, old), (AggregationView)SpecJson.FromNode(kind, spec), diff, stateful);
        }

        if (kind == ObjectKind.FeatureView && stateful && diff.StoredRowsMismatch && diff.Drops is null && spec["online"]?.GetValue<bool>() != false)
        {
            diff.Drops = "its online rows no longer match the new keys or types: they are removed (materialize again)";
        }

        return (diff.Details, diff.Breaking, diff.Drops);
    }

    private static void CompareFields(JsonNode? a, JsonNode? b, string noun, Diff diff, bool breakingChanges)
    {
        var before = Fields(a);
        var after = Fields(b);
        var detailsBefore = diff.Details.Count;
        foreach (var (name, type) in before)
        {
            if (!after.TryGetValue(name, out var newType))
            {
                diff.Details.Add($"- {noun} {name} ({type})");
                if (breakingChanges)
                {
                    diff.Breaking.Add($"{noun} '{name}' is removed: clients reading it break");
                }
            }
            else if (newType != type)
            {
                diff.Details.Add($"~ {noun} {name}: {type} -> {newType}");
                if (breakingChanges)
                {
                    diff.Breaking.Add($"{noun} '{name}' changes type from {type} to {newType}: stored values no longer match");
                    diff.StoredRowsMismatch = true;
                }
            }
        }

        foreach (var (name, type) in after)
        {
            if (!before.ContainsKey(name))
            {
                diff.Details.Add($"+ {noun} {name} ({type})");
            }
        }

        // A changed rule changes what is accepted from now on, not what is stored: an update, never breaking.
        CompareRules(a, b, noun, diff);

        if (diff.Details.Count == detailsBefore)
        {
            diff.Details.Add($"{noun} descriptions or tags change");
        }
    }

    private static Dictionary<string, string> Fields(JsonNode? node)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonArray array)
        {
            foreach (var item in array)
            {
                if (item?["name"]?.GetValue<string>() is { } name)
                {
                    result[name] = item["type"]?.GetValue<string>() ?? "?";
                }
            }
        }

        return result;
    }

    private static void CompareList(JsonNode? a, JsonNode? b, Diff diff)
    {
        var before = (a as JsonArray)?.Select(n => n?.GetValue<string>() ?? "").ToList() ?? [];
        var after = (b as JsonArray)?.Select(n => n?.GetValue<string>() ?? "").ToList() ?? [];
        diff.Details.AddRange(before.Except(after).Select(x => $"- {x}"));
        diff.Details.AddRange(after.Except(before).Select(x => $"+ {x}"));
        if (before.Except(after).Any() is false && after.Except(before).Any() is false)
        {
            diff.Details.Add("feature order changes");
        }
    }

    private static void CompareAggregations(AggregationView old, AggregationView now, Diff diff, bool stateful)
    {
        var before = old.Aggregations.ToDictionary(a => a.OutputName, StringComparer.Ordinal);
        var after = now.Aggregations.ToDictionary(a => a.OutputName, StringComparer.Ordinal);
        foreach (var (name, a) in before)
        {
            if (!after.TryGetValue(name, out var b))
            {
                diff.Details.Add($"- aggregation {name}");
                if (stateful)
                {
                    diff.Breaking.Add($"aggregation '{name}' is removed: its tiles are dropped and clients reading it break");
                }

                continue;
            }

            var oldHop = a.EffectiveHop(old.Hop);
            var newHop = b.EffectiveHop(now.Hop);
            if (a.Window != b.Window || oldHop != newHop)
            {
                diff.Details.Add($"~ aggregation {name}: window/hop {Durations.Format(a.Window)}/{Durations.Format(oldHop)} -> {Durations.Format(b.Window)}/{Durations.Format(newHop)}");
                if (stateful)
                {
                    diff.Breaking.Add($"aggregation '{name}' changes window or hop on a view with state: its tiles must be rebuilt (backfill)");
                }
            }

            if (a.Function != b.Function || a.Column != b.Column || a.Filter != b.Filter || a.K != b.K || a.Percentile != b.Percentile)
            {
                diff.Details.Add($"~ aggregation {name}: function, column, filter or parameter changes");
                if (stateful)
                {
                    diff.Breaking.Add($"aggregation '{name}' changes what it aggregates on a view with state: its tiles must be rebuilt (backfill)");
                }
            }
        }

        foreach (var name in after.Keys.Where(n => !before.ContainsKey(n)))
        {
            diff.Details.Add($"+ aggregation {name} (empty until backfilled or fed by new events)");
        }
    }

    private static string KeyList(JsonNode? node) =>
        node is JsonArray a ? "[" + string.Join(", ", a.Select(k => $"{k?["name"]}:{k?["type"]}")) + "]" : Short(node);

    private static string Short(JsonNode? node)
    {
        var text = node is null ? "(none)" : node is JsonValue v && v.TryGetValue<string>(out var s) ? s : SpecJson.ToCanonicalString(node);
        return text.Length <= 80 ? text : text[..77] + "...";
    }
}
