using Freshet.Model;
using Freshet.Aggregates;
using Freshet.Online;
using Freshet.Quality;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// Turns column-major rows (from a push, a write, or a batch source) into online rows of one plain view:
/// join keys and features converted to their declared types, event and created times taken from the
/// view's timestamp columns. A row that cannot be converted is an error naming the row and column.
/// </summary>
public sealed class ViewRowEncoder
{
    private readonly FeatureView _view;
    private readonly JoinKey[] _keys;
    private readonly uint[] _hashes;
    private readonly string _timestampField;
    private readonly string? _createdField;

    // The view's data-quality checks, each on a join key (Key) or a feature, by index; empty when it has none.
    private readonly (bool Key, int Index, FieldCheck Check)[] _checks;

    /// <summary>Prepares the encoder of a view; <paramref name="checks"/> are its data-quality rules (<see cref="ViewChecks"/>).</summary>
    public ViewRowEncoder(FeatureView view, IReadOnlyList<JoinKey> keys, DataSource? source, IReadOnlyList<FieldCheck>? checks = null)
    {
        _view = view;
        _keys = [.. keys];
        _hashes = [.. view.Schema.Select(f => RowCodec.NameHash(f.Name))];
        _timestampField = RepoIndex.TimestampField(view, source);
        _createdField = RepoIndex.CreatedTimestampField(view, source);
        var mapped = new List<(bool, int, FieldCheck)>();
        foreach (var check in checks ?? [])
        {
            var feature = view.Schema.ToList().FindIndex(f => f.Name == check.Field);
            var key = Array.FindIndex(_keys, k => k.Name == check.Field);
            if (feature >= 0)
            {
                mapped.Add((false, feature, check));
            }
            else if (key >= 0)
            {
                mapped.Add((true, key, check));
            }
        }

        _checks = [.. mapped];
    }

    /// <summary>The view written.</summary>
    public string View => _view.Name;

    /// <summary>Whether the view has data-quality rules to check.</summary>
    public bool HasChecks => _checks.Length > 0;

    /// <summary>
    /// Encodes every row of <paramref name="table"/>; <paramref name="field"/> prefixes error fields (<c>df</c>).
    /// Throws <see cref="RequestException"/> for the first bad row. A row that breaks a data-quality rule is left
    /// out and added to <paramref name="violations"/> (code <c>rule_violation</c>, the reason naming the field and
    /// rule); without a list it is a <see cref="RequestException"/> too.
    /// </summary>
    public List<OnlineWrite> Encode(ColumnTable table, string field = "df", long? defaultEventMicros = null, List<EventRejection>? violations = null)
    {
        var keyColumns = _keys.Select(k => Required(table, k.Name, field, "join key")).ToArray();
        var featureColumns = _view.Schema.Select(f => Required(table, f.Name, field, "feature")).ToArray();
        var timestamps = table.Column(_timestampField);
        if (timestamps is null && defaultEventMicros is null)
        {
            throw new RequestException($"{field}.{_timestampField}", "missing_column", $"missing the event timestamp column '{_timestampField}' of view '{_view.Name}'");
        }

        var created = _createdField is null ? null : table.Column(_createdField);
        var writes = new List<OnlineWrite>(table.RowCount);
        var keyValues = new FeatureValue[_keys.Length];
        var values = new FeatureValue[_view.Schema.Count];
        for (var r = 0; r < table.RowCount; r++)
        {
            for (var k = 0; k < _keys.Length; k++)
            {
                var v = keyColumns[k][r];
                if (v.IsNull)
                {
                    throw new RequestException($"{field}.{_keys[k].Name}[{r}]", "null_join_key", $"join key '{_keys[k].Name}' is null in row {r}");
                }

                keyValues[k] = Coerce(v, _keys[k].Type, $"{field}.{_keys[k].Name}[{r}]", _keys[k].Name, r);
            }

            for (var f = 0; f < values.Length; f++)
            {
                var feature = _view.Schema[f];
                values[f] = Coerce(featureColumns[f][r], feature.Type, $"{field}.{feature.Name}[{r}]", feature.Name, r);
            }

            var eventMicros = timestamps is null ? defaultEventMicros!.Value : Time(timestamps[r], $"{field}.{_timestampField}[{r}]", r);
            var createdMicros = created is null || created[r].IsNull ? 0 : Time(created[r], $"{field}.{_createdField}[{r}]", r);
            if (_checks.Length > 0 && Violation(keyValues, values) is { } violation)
            {
                if (violations is null)
                {
                    throw new RequestException($"{field}.{violation.Field}[{r}]", FieldCheck.ViolationCode, $"row {r}: {violation.Reason}");
                }

                violations.Add(new EventRejection(r, FieldCheck.ViolationCode, violation.Reason));
                continue;
            }

            writes.Add(new OnlineWrite(_view.Name, EntityKeyCodec.Encode(keyValues), RowCodec.Write(eventMicros, createdMicros, _hashes, values)));
        }

        return writes;
    }

    private (string Field, string Reason)? Violation(FeatureValue[] keyValues, FeatureValue[] values)
    {
        foreach (var (key, index, check) in _checks)
        {
            if (check.Check(key ? keyValues[index] : values[index]) is { } reason)
            {
                return (check.Field, reason);
            }
        }

        return null;
    }

    private FeatureValue[] Required(ColumnTable table, string name, string field, string what) =>
        table.Column(name) ?? throw new RequestException($"{field}.{name}", "missing_column", $"missing the {what} column '{name}' of view '{_view.Name}'");

    private static FeatureValue Coerce(FeatureValue value, FeatureType type, string field, string column, int row) =>
        ValueCoercion.TryCoerce(value, type, out var result, out var error)
            ? result
            : throw new RequestException(field, "wrong_type", $"column '{column}' row {row}: {error}");

    private static long Time(FeatureValue value, string field, int row)
    {
        if (value.IsNull)
        {
            throw new RequestException(field, "null_timestamp", $"the event timestamp is null in row {row}");
        }

        return ValueCoercion.TryCoerce(value, FeatureType.Of(ScalarKind.Timestamp), out var t, out var error)
            ? t.TimestampMicros
            : throw new RequestException(field, "wrong_type", $"timestamp row {row}: {error}");
    }
}
