using System.Diagnostics;
using Freshet.Ingestion;

namespace Freshet.Observability;

/// <summary>Records what ingestion did to each view (docs/observability.md): applied, rejected and skipped events, dead letters.</summary>
internal static class IngestMetrics
{
    public const string Push = "push";
    public const string Stream = "stream";

    /// <summary>Whether anyone listens: callers skip building what they would record otherwise.</summary>
    public static bool Enabled => FreshetTelemetry.IngestEvents.Enabled || FreshetTelemetry.DeadLetters.Enabled;

    /// <summary>Adds <paramref name="count"/> events of <paramref name="view"/> with an outcome (applied, rejected, skipped).</summary>
    public static void Events(string view, string path, string outcome, long count)
    {
        if (count > 0 && FreshetTelemetry.IngestEvents.Enabled)
        {
            FreshetTelemetry.IngestEvents.Add(count, new TagList { { "view", view }, { "path", path }, { "outcome", outcome } });
        }
    }

    /// <summary>Counts the dead letters of a batch by view and reason; returns how many each view got.</summary>
    public static Dictionary<string, int> DeadLetters(IReadOnlyList<RejectedEvent> letters, string path)
    {
        var perView = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var letter in letters)
        {
            var view = letter.View ?? "";
            perView[view] = perView.GetValueOrDefault(view) + 1;
            if (FreshetTelemetry.DeadLetters.Enabled)
            {
                FreshetTelemetry.DeadLetters.Add(1, new TagList { { "view", view }, { "path", path }, { "reason", letter.Code } });
            }
        }

        return perView;
    }
}
