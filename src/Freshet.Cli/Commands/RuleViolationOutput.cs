using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.Quality;
using Freshet.Serving;

namespace Freshet.Cli.Commands;

/// <summary>How <c>materialize</c> reports rows skipped by data-quality rules (docs/quality.md#rules).</summary>
internal static class RuleViolationOutput
{
    public static JsonArray Json(IReadOnlyList<RuleViolationCount> counts) =>
        new([.. counts.Select(c => (JsonNode)new JsonObject
        {
            ["rule"] = c.Rule,
            ["rows"] = c.Rows,
            ["examples"] = new JsonArray([.. c.Examples.Select(e => (JsonNode)new JsonObject { ["reason"] = e.Reason, ["row"] = e.Row })]),
        })]);

    public static void Write(TextWriter output, IReadOnlyList<MaterializeViewResult> results)
    {
        var any = results.Where(r => r.Violations.Count > 0).ToList();
        if (any.Count == 0)
        {
            return;
        }

        output.WriteLine("Rows skipped by data-quality rules (not written; fix the data or the rule and materialize again):");
        var table = new TextTable(["VIEW", "RULE", "ROWS", "EXAMPLE"]);
        foreach (var r in any)
        {
            foreach (var c in r.Violations)
            {
                table.Add([r.View, c.Rule, c.Rows.ToString(CultureInfo.InvariantCulture), c.Examples.Count > 0 ? c.Examples[0].Reason : ""]);
            }
        }

        table.WriteTo(output);
    }
}
