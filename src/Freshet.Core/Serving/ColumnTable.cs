using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// Rows in column-major form, as Feast sends them (<c>{"driver_id": [1001, 1002], "conv_rate": [0.5, 0.7]}</c>)
/// and as batch readers produce them: every column has <see cref="RowCount"/> values.
/// </summary>
public sealed class ColumnTable
{
    private readonly Dictionary<string, FeatureValue[]> _columns;

    /// <summary>Creates a table; every column must have the same length.</summary>
    public ColumnTable(IReadOnlyDictionary<string, FeatureValue[]> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        _columns = new Dictionary<string, FeatureValue[]>(columns, StringComparer.Ordinal);
        RowCount = -1;
        foreach (var (name, values) in _columns)
        {
            if (RowCount >= 0 && values.Length != RowCount)
            {
                throw new RequestException("df", "mismatched_lengths", $"column '{name}' has {values.Length} values but another has {RowCount}; all columns must have the same length");
            }

            RowCount = values.Length;
        }

        RowCount = Math.Max(RowCount, 0);
    }

    /// <summary>The number of rows.</summary>
    public int RowCount { get; }

    /// <summary>The column names.</summary>
    public IEnumerable<string> Names => _columns.Keys;

    /// <summary>A column by name.</summary>
    public FeatureValue[]? Column(string name) => _columns.GetValueOrDefault(name);

    /// <summary>The rows at <paramref name="rows"/>, in that order.</summary>
    public ColumnTable Select(IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return new ColumnTable(_columns.ToDictionary(c => c.Key, c => rows.Select(r => c.Value[r]).ToArray(), StringComparer.Ordinal));
    }
}

/// <summary>
/// A request that cannot be served as sent: names the field and the problem. Hosts turn it into a 4xx
/// (HTTP) or INVALID_ARGUMENT (gRPC).
/// </summary>
public sealed class RequestException(string field, string code, string message, int status = 400) : Exception(message)
{
    /// <summary>The request field at fault (<c>entities.driver_id</c>, <c>features[2]</c>).</summary>
    public string Field { get; } = field;

    /// <summary>A stable machine-readable code (<c>unknown_view</c>, <c>missing_join_key</c>).</summary>
    public string Code { get; } = code;

    /// <summary>The HTTP status: 400, 404, 413, or 507 when a training-data run ran out of memory.</summary>
    public int Status { get; } = status;
}
