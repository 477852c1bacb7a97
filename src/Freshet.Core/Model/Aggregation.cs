using System.Globalization;
using System.Text.Json.Serialization;

namespace Freshet.Model;

/// <summary>The aggregation functions of an aggregation view.</summary>
public enum AggregationFunction
{
    /// <summary>Number of events (or of non-null values of a column).</summary>
    Count,
    /// <summary>Sum of a numeric column.</summary>
    Sum,
    /// <summary>Arithmetic mean of a numeric column.</summary>
    Mean,
    /// <summary>Smallest value.</summary>
    Min,
    /// <summary>Largest value.</summary>
    Max,
    /// <summary>Value of the earliest event.</summary>
    First,
    /// <summary>Value of the latest event.</summary>
    Last,
    /// <summary>Values of the k latest events, newest first.</summary>
    LastN,
    /// <summary>Population standard deviation.</summary>
    Stddev,
    /// <summary>Population variance.</summary>
    Variance,
    /// <summary>Number of distinct values (HyperLogLog above an exact threshold).</summary>
    CountDistinct,
    /// <summary>Approximate percentile p from a mergeable sketch.</summary>
    ApproxPercentile,
}

/// <summary>
/// One aggregation: <c>function(column)</c> over <c>window</c>, evaluated on tiles of size <c>hop</c>,
/// optionally on the events that pass <c>filter</c>.
/// </summary>
public sealed record Aggregation(AggregationFunction Function, string? Column, TimeSpan Window)
{
    /// <summary>The tile size; when null, the view's hop or the default for the window.</summary>
    public TimeSpan? Hop { get; init; }

    /// <summary>An expression that selects the events counted (on-demand expression language).</summary>
    public string? Filter { get; init; }

    /// <summary>The output feature name; when null, derived (see <see cref="OutputName"/>).</summary>
    public string? Name { get; init; }

    /// <summary>k of <c>last_n</c>.</summary>
    public int? K { get; init; }

    /// <summary>p of <c>approx_percentile</c>, in (0, 1).</summary>
    public double? Percentile { get; init; }

    /// <summary>The function names used in YAML.</summary>
    public static readonly IReadOnlyDictionary<string, AggregationFunction> FunctionNames = new Dictionary<string, AggregationFunction>(StringComparer.Ordinal)
    {
        ["count"] = AggregationFunction.Count,
        ["sum"] = AggregationFunction.Sum,
        ["mean"] = AggregationFunction.Mean,
        ["min"] = AggregationFunction.Min,
        ["max"] = AggregationFunction.Max,
        ["first"] = AggregationFunction.First,
        ["last"] = AggregationFunction.Last,
        ["last_n"] = AggregationFunction.LastN,
        ["stddev"] = AggregationFunction.Stddev,
        ["variance"] = AggregationFunction.Variance,
        ["count_distinct"] = AggregationFunction.CountDistinct,
        ["approx_percentile"] = AggregationFunction.ApproxPercentile,
    };

    /// <summary>The YAML name of a function.</summary>
    public static string NameOf(AggregationFunction function)
    {
        foreach (var (name, f) in FunctionNames)
        {
            if (f == function)
            {
                return name;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(function));
    }

    /// <summary>
    /// The default hop for a window (DESIGN §3): 1 min up to 1 h, 5 min below 12 h, 1 h below 12 d, 1 d above.
    /// </summary>
    public static TimeSpan DefaultHop(TimeSpan window) =>
        window <= TimeSpan.FromHours(1) ? TimeSpan.FromMinutes(1)
        : window < TimeSpan.FromHours(12) ? TimeSpan.FromMinutes(5)
        : window < TimeSpan.FromDays(12) ? TimeSpan.FromHours(1)
        : TimeSpan.FromDays(1);

    /// <summary>The hop in effect given the view's default.</summary>
    public TimeSpan EffectiveHop(TimeSpan? viewHop) => Hop ?? viewHop ?? DefaultHop(Window);

    /// <summary>
    /// The feature name: the explicit <see cref="Name"/>, else <c>{column}_{function}_{window}</c>
    /// (<c>amount_sum_1d</c>, <c>amount_last5_1h</c>, <c>amount_p99_1h</c>), or <c>count_{window}</c>.
    /// </summary>
    [JsonIgnore]
    public string OutputName
    {
        get
        {
            if (Name is not null)
            {
                return Name;
            }

            var fn = Function switch
            {
                AggregationFunction.LastN => string.Create(CultureInfo.InvariantCulture, $"last{K ?? 0}"),
                AggregationFunction.ApproxPercentile => "p" + ((Percentile ?? 0) * 100).ToString("0.###", CultureInfo.InvariantCulture).Replace('.', '_'),
                _ => NameOf(Function),
            };
            var window = Durations.Format(Window);
            return Column is null ? $"{fn}_{window}" : $"{Column}_{fn}_{window}";
        }
    }

    /// <summary>Whether the function needs a column.</summary>
    public static bool NeedsColumn(AggregationFunction function) => function != AggregationFunction.Count;

    /// <summary>Whether the function accepts a column of this type; the reason when not.</summary>
    public static string? CheckInput(AggregationFunction function, FeatureType input) => function switch
    {
        AggregationFunction.Count => null,
        AggregationFunction.Sum or AggregationFunction.Mean or AggregationFunction.Stddev or AggregationFunction.Variance or AggregationFunction.ApproxPercentile
            => input.IsNumeric ? null : "needs a numeric column (int32, int64, float32 or float64)",
        AggregationFunction.Min or AggregationFunction.Max
            => input.IsNumeric || input == FeatureType.Of(ScalarKind.Timestamp) || input == FeatureType.Of(ScalarKind.String)
                ? null : "needs a numeric, timestamp or string column",
        AggregationFunction.First or AggregationFunction.Last
            => null,
        AggregationFunction.LastN
            => input.IsScalar ? null : "needs a single-valued column (not a list or vector)",
        AggregationFunction.CountDistinct
            => input.IsScalar && input.Scalar is not (ScalarKind.Float32 or ScalarKind.Float64)
                ? null : "needs a bool, integer, string, bytes or timestamp column",
        _ => "is not a known function",
    };

    /// <summary>The type of the aggregated feature for an input column type.</summary>
    public static FeatureType OutputType(AggregationFunction function, FeatureType? input) => function switch
    {
        AggregationFunction.Count or AggregationFunction.CountDistinct => FeatureType.Of(ScalarKind.Int64),
        AggregationFunction.Sum => input is { Scalar: ScalarKind.Int32 or ScalarKind.Int64 } ? FeatureType.Of(ScalarKind.Int64) : FeatureType.Of(ScalarKind.Float64),
        AggregationFunction.Mean or AggregationFunction.Stddev or AggregationFunction.Variance or AggregationFunction.ApproxPercentile => FeatureType.Of(ScalarKind.Float64),
        AggregationFunction.LastN => FeatureType.ListOf(input?.Scalar ?? ScalarKind.Float64),
        _ => input ?? FeatureType.Of(ScalarKind.Float64),
    };
}
