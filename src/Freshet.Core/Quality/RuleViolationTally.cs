using Freshet.Aggregates;
using Freshet.Serving;

namespace Freshet.Quality;

/// <summary>How many rows broke one rule in a materialization, with the first few as examples.</summary>
/// <param name="Rule">The field and rule, <c>amount.min</c>.</param>
/// <param name="Rows">How many rows broke it (and were skipped).</param>
/// <param name="Examples">Up to <see cref="RuleViolationTally.MaxExamples"/> of them: the reason and the row as JSON.</param>
public sealed record RuleViolationCount(string Rule, long Rows, IReadOnlyList<RuleViolationExample> Examples);

/// <summary>One row that broke a rule: why, and the row as JSON (every column read from the batch source).</summary>
public sealed record RuleViolationExample(string Reason, string Row);

/// <summary>
/// Counts rule violations per rule during a materialization. Materialize does not dead-letter them: the batch
/// source holds the rows already, and a large file would flood the dead-letter store; counts and a few examples
/// tell what to fix, and materializing again after the fix applies them (docs/quality.md#rules).
/// </summary>
public sealed class RuleViolationTally
{
    /// <summary>Examples kept per rule.</summary>
    public const int MaxExamples = 3;

    private readonly Dictionary<string, (long Rows, List<RuleViolationExample> Examples)> _byRule = new(StringComparer.Ordinal);

    /// <summary>Adds the violations of one batch of rows.</summary>
    public void Add(ColumnTable batch, IReadOnlyList<EventRejection> violations)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(violations);
        foreach (var v in violations)
        {
            var colon = v.Reason.IndexOf(':', StringComparison.Ordinal);
            var rule = colon > 0 ? v.Reason[..colon] : v.Reason;
            if (!_byRule.TryGetValue(rule, out var entry))
            {
                entry = (0, []);
            }

            if (entry.Examples.Count < MaxExamples)
            {
                entry.Examples.Add(new RuleViolationExample(v.Reason, System.Text.Encoding.UTF8.GetString(RowJson.Write(batch, v.Row))));
            }

            _byRule[rule] = (entry.Rows + 1, entry.Examples);
        }
    }

    /// <summary>The counts, by rule name.</summary>
    public IReadOnlyList<RuleViolationCount> Counts() =>
        [.. _byRule.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new RuleViolationCount(p.Key, p.Value.Rows, p.Value.Examples))];
}
