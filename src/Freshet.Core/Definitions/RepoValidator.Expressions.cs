using Freshet.Expressions;
using Freshet.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

public static partial class RepoValidator
{
    /// <summary>
    /// Records where the text of a feature's expression starts in its file, at
    /// <c>{featurePath}.expression.text</c>: past the quote of a quoted scalar, on the line after the header of
    /// a block scalar. A block scalar's indentation is not kept by the YAML parser, so its column is taken as
    /// the feature mapping's column plus two (the usual indentation); see docs/expressions.md.
    /// </summary>
    internal static void MarkExpressionText(YamlMap feature, string featurePath)
    {
        if (feature.Value("expression") is not YamlScalarNode node)
        {
            return;
        }

        var start = feature.Context.At(node);
        var text = node.Style switch
        {
            ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted => start with { Column = start.Column + 1 },
            ScalarStyle.Literal or ScalarStyle.Folded => start with { Line = start.Line + 1, Column = feature.Context.At(feature.Node).Column + 2 },
            _ => start,
        };
        feature.Context.Bag.Map.Set(featurePath + ".expression.text", text);
    }

    private sealed partial class Checker
    {
        /// <summary>
        /// Parses and binds every expression of an on-demand view against its inputs, so that a typo fails at
        /// apply time, not at the first request. Errors point into the expression: its file position plus the
        /// line and column within it.
        /// </summary>
        private void CheckExpressions(OnDemandView v, string path, string what)
        {
            // An unknown input was reported already; every name it would have given would be reported again.
            foreach (var input in v.Inputs)
            {
                if (index.Source(input) is null && index.View(input) is null)
                {
                    return;
                }
            }

            ExpressionScope? scope = null;
            for (var j = 0; j < v.Features.Count; j++)
            {
                var f = v.Features[j];
                if (string.IsNullOrWhiteSpace(f.Expression))
                {
                    continue;
                }

                scope ??= ExpressionScope.ForView(v, index);
                var result = ExpressionCompiler.Compile(f.Expression, scope, f.Type);
                var expressionPath = $"{path}.features[{j}].expression";
                foreach (var e in result.Errors)
                {
                    var at = bag.Map.Find(expressionPath + ".text");
                    if (at is null)
                    {
                        bag.Report(expressionPath, $"{what}: feature '{f.Name}': {e}");
                    }
                    else
                    {
                        var position = new SourcePosition(at.File, at.Line + e.Line - 1, at.Column + e.Column - 1);
                        bag.Report(position, $"{what}: feature '{f.Name}': {e.Message}{e.Hint}");
                    }
                }
            }
        }
    }
}
