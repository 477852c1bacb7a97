using System.Globalization;
using Freshet.Model;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

public static partial class DefinitionWriter
{
    /// <summary>A field's data-quality rules, as the keys the reader takes (flat on the field).</summary>
    private static void Rules(YamlMappingNode m, FieldRules rules)
    {
        if (rules.Nullable == false)
        {
            Put(m, "nullable", "false");
        }

        Put(m, "min", rules.Min is { } min ? FieldRules.Number(min) : null);
        Put(m, "max", rules.Max is { } max ? FieldRules.Number(max) : null);
        if (rules.Allowed is { } allowed)
        {
            m.Add("allowed", new YamlSequenceNode(allowed.Select(a => (YamlNode)new YamlScalarNode(a) { Style = YamlDotNet.Core.ScalarStyle.SingleQuoted })));
        }

        if (rules.Regex is { } regex)
        {
            m.Add("regex", new YamlScalarNode(regex) { Style = YamlDotNet.Core.ScalarStyle.SingleQuoted });
        }

        Put(m, "max_length", rules.MaxLength?.ToString(CultureInfo.InvariantCulture));
    }
}
