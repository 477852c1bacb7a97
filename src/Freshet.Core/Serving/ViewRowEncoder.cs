using Freshet.Model;
using Freshet.Online;
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

    /// <summary>Prepares the encoder of a view.</summary>
    public ViewRowEncoder(FeatureView view, IReadOnlyList<JoinKey> keys, DataSource? source)
    {
        _view = view;
        _keys = [.. keys];
        _hashes = [.. view.Schema.Select(f => RowCodec.NameHash(f.Name))];
        _timestampField = RepoIndex.TimestampField(view, source);
        _createdField = RepoIndex.CreatedTimestampField(view, source);
    }

    /// <summary>The view written.</summary>
    public string View => _view.Name;

    /// <summary>
    /// Encodes every row of <paramref name="table"/>; <paramref name="field"/> prefixes error fields (<c>df</c>).
    /// Throws <see cref="RequestException"/> for the first bad row.
    /// </summary>
    public List<OnlineWrite> Encode(ColumnTable table, string field = "df", long? defaultEventMicros = null)
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
            writes.Add(new OnlineWrite(_view.Name, EntityKeyCodec.Encode(keyValues), RowCodec.Write(eventMicros, createdMicros, _hashes, values)));
        }

        return writes;
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
