using System.Text.Json;
using Freshet.Quality;
using Freshet.Serving;

namespace Freshet.Server.Http;

/// <summary>The JSON of rows refused by data-quality rules (and other row rejections) in push, write and materialize answers.</summary>
internal static class QualityJson
{
    /// <summary><c>row_errors</c>: one object per refused row and view (as gRPC's <c>PushAck.row_errors</c>); left out when there are none.</summary>
    public static void WriteRowErrors(Utf8JsonWriter w, IReadOnlyList<PushRejection> rejections)
    {
        if (rejections.Count == 0)
        {
            return;
        }

        w.WriteStartArray("row_errors");
        foreach (var r in rejections)
        {
            w.WriteStartObject();
            w.WriteNumber("row", r.Row);
            w.WriteString("view", r.View);
            w.WriteString("code", r.Code);
            w.WriteString("message", r.Reason);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary><c>rule_violations</c> of a materialized view: rows skipped per rule, with examples; left out when there are none.</summary>
    public static void WriteViolations(Utf8JsonWriter w, IReadOnlyList<RuleViolationCount> counts)
    {
        if (counts.Count == 0)
        {
            return;
        }

        w.WriteStartArray("rule_violations");
        foreach (var c in counts)
        {
            w.WriteStartObject();
            w.WriteString("rule", c.Rule);
            w.WriteNumber("rows", c.Rows);
            w.WriteStartArray("examples");
            foreach (var e in c.Examples)
            {
                w.WriteStartObject();
                w.WriteString("reason", e.Reason);
                w.WriteString("row", e.Row);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
