using Freshet.Model;
using Freshet.Quality;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

internal sealed partial class DefinitionReader
{
    /// <summary>
    /// The data-quality keys of a schema field (<c>nullable</c>, <c>min</c>, <c>max</c>, <c>allowed</c>, <c>regex</c>,
    /// <c>max_length</c>), as written; whether they fit the field's type is the validator's job, so definitions built
    /// in code get the same checks. Null when the field has none.
    /// </summary>
    private FieldRules? ReadRules(YamlMap f, FeatureType? type)
    {
        var nullable = f.Bool("nullable");
        var min = f.Double("min");
        var max = f.Double("max");
        var regex = f.Has("regex") ? f.String("regex") : null;
        var maxLength = f.Int("max_length", 0, int.MaxValue);
        List<string>? allowed = null;
        if (f.Has("allowed"))
        {
            allowed = [];
            foreach (var (node, _) in f.List("allowed"))
            {
                if (node is YamlScalarNode s && !ReadContext.IsNull(s))
                {
                    allowed.Add(FieldRuleText.Canonical(s.Value ?? "", type));
                }
                else
                {
                    ctx.Error(node, $"{f.What}: each allowed value must be a single value, not {YamlMap.Describe(node)}");
                }
            }
        }

        var rules = new FieldRules
        {
            Nullable = nullable == false ? false : null,
            Min = min,
            Max = max,
            Allowed = allowed,
            Regex = regex,
            MaxLength = maxLength,
        };
        return rules.IsEmpty ? null : rules;
    }
}
