using Freshet.Model;
using Freshet.Quality;

namespace Freshet.Definitions;

public static partial class RepoValidator
{
    private sealed partial class Checker
    {
        /// <summary>The data-quality rules of a field fit its type and each other (docs/feature-repo.md#data-quality-rules).</summary>
        private void CheckRules(Field f, string path, string what)
        {
            if (f.Rules is not { } rules || !f.Type.IsValid)
            {
                return;
            }

            var field = $"{what}: field '{f.Name}'";
            if ((rules.Min is not null || rules.Max is not null) && !FieldRuleText.TakesRange(f.Type))
            {
                bag.Report(path + (rules.Min is not null ? ".min" : ".max"), $"{field}: min and max apply to int32, int64, float32 and float64 fields, not {f.Type}");
            }
            else if (rules is { Min: { } min, Max: { } max } && min > max)
            {
                bag.Report(path + ".min", $"{field}: min {FieldRules.Number(min)} is greater than max {FieldRules.Number(max)}");
            }

            if (rules.Allowed is { } allowed)
            {
                if (!FieldRuleText.TakesAllowed(f.Type))
                {
                    bag.Report(path + ".allowed", $"{field}: allowed applies to string, int32, int64 and bool fields, not {f.Type}");
                }
                else if (allowed.Count == 0)
                {
                    bag.Report(path + ".allowed", $"{field}: allowed needs at least one value");
                }
                else
                {
                    for (var i = 0; i < allowed.Count; i++)
                    {
                        if (!FieldRuleText.TryParseAllowed(allowed[i], f.Type, out _))
                        {
                            bag.Report($"{path}.allowed[{i}]", $"{field}: allowed value '{allowed[i]}' is not a {f.Type}");
                        }
                    }
                }
            }

            if (rules.Regex is { } regex)
            {
                if (!FieldRuleText.TakesRegex(f.Type))
                {
                    bag.Report(path + ".regex", $"{field}: regex applies to string fields, not {f.Type}");
                }
                else if (FieldRuleText.TryCompile(regex, out var error) is null)
                {
                    bag.Report(path + ".regex", $"{field}: regex '{regex}' does not compile (patterns run without backtracking: no backreferences or lookarounds): {error}");
                }
            }

            if (rules.MaxLength is { } maxLength)
            {
                if (!FieldRuleText.TakesMaxLength(f.Type))
                {
                    bag.Report(path + ".max_length", $"{field}: max_length applies to string, bytes, list and vector fields, not {f.Type}");
                }
                else if (maxLength < 0)
                {
                    bag.Report(path + ".max_length", $"{field}: max_length must be 0 or more, not {maxLength}");
                }
            }

            if (rules.Min is { } m && !double.IsFinite(m))
            {
                bag.Report(path + ".min", $"{field}: min must be a finite number");
            }

            if (rules.Max is { } x && !double.IsFinite(x))
            {
                bag.Report(path + ".max", $"{field}: max must be a finite number");
            }
        }

        /// <summary>Rules guard ingested rows; a request source's values are not ingested, so its fields take none.</summary>
        private void CheckNoRules(RequestSource source, string path, string what)
        {
            for (var j = 0; j < source.Schema.Count; j++)
            {
                if (source.Schema[j].Rules is not null)
                {
                    bag.Report($"{path}.schema[{j}]", $"{what}: field '{source.Schema[j].Name}': a request source's fields take no data-quality rules (rules check ingested rows)");
                }
            }
        }
    }
}
