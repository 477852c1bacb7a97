using System.Text.Json;
using System.Text.Json.Nodes;
using Freshet.Model;

namespace Freshet.Registry;

public static partial class RegistryPlanner
{
    /// <summary>Adds a detail line for each field (kept by both sides) whose data-quality rules change.</summary>
    private static void CompareRules(JsonNode? a, JsonNode? b, string noun, Diff diff)
    {
        var before = RulesOf(a);
        var after = RulesOf(b);
        foreach (var (name, rules) in after)
        {
            if (before.TryGetValue(name, out var old) && !Equals(old, rules))
            {
                diff.Details.Add($"~ {noun} {name} rules: {Text(old)} -> {Text(rules)}");
            }
        }

        static string Text(FieldRules? r) => r?.ToString() ?? "none";
    }

    private static Dictionary<string, FieldRules?> RulesOf(JsonNode? node)
    {
        var result = new Dictionary<string, FieldRules?>(StringComparer.Ordinal);
        if (node is JsonArray array)
        {
            foreach (var item in array)
            {
                if (item?["name"]?.GetValue<string>() is { } name)
                {
                    result[name] = item["rules"] is { } rules ? rules.Deserialize(SpecJsonContext.Default.FieldRules) : null;
                }
            }
        }

        return result;
    }
}
