using Freshet.Model;
using Freshet.Values;

namespace Freshet.Aggregates;

public static partial class AggregateFunctions
{
    /// <summary>The number of distinct values that <c>count_distinct</c> counts exactly before switching to HyperLogLog.</summary>
    public const int CountDistinctExactLimit = DistinctState.ExactLimit;

    /// <summary>The HyperLogLog precision p of <c>count_distinct</c> (2^p registers, standard error 1.04/sqrt(2^p)).</summary>
    public const int CountDistinctPrecision = DistinctState.Precision;

    /// <summary>The relative accuracy α of <c>approx_percentile</c> (DDSketch).</summary>
    public const double PercentileRelativeAccuracy = PercentileSketchState.RelativeAccuracy;

    /// <summary>
    /// A new, empty state for <paramref name="aggregation"/> over values of <paramref name="inputType"/> (null only
    /// for a column-less <c>count</c>). See docs/aggregations.md for each function's rules.
    /// </summary>
    /// <exception cref="ArgumentException">The function does not accept the input type, or a parameter is missing or out of range.</exception>
    public static AggregateState Create(Model.Aggregation aggregation, FeatureType? inputType)
    {
        ArgumentNullException.ThrowIfNull(aggregation);
        var function = aggregation.Function;
        if (function == AggregationFunction.Count)
        {
            return new CountState();
        }

        var name = Model.Aggregation.NameOf(function);
        if (inputType is not { } input)
        {
            throw new ArgumentException($"{name} needs the type of its input column", nameof(inputType));
        }

        if (Model.Aggregation.CheckInput(function, input) is { } reason)
        {
            throw new ArgumentException($"{name} of {input}: {reason}", nameof(inputType));
        }

        var kind = FeatureValue.KindOf(input);
        return function switch
        {
            AggregationFunction.Sum => input.Scalar is ScalarKind.Int32 or ScalarKind.Int64 ? new Int64SumState() : new Float64SumState(),
            AggregationFunction.Mean => new MeanState(),
            AggregationFunction.Min => new PickState(PickRule.Min, kind),
            AggregationFunction.Max => new PickState(PickRule.Max, kind),
            AggregationFunction.First => new PickState(PickRule.First, kind),
            AggregationFunction.Last => new PickState(PickRule.Last, kind),
            AggregationFunction.LastN => new LastNState(aggregation.K ?? throw new ArgumentException("last_n needs k", nameof(aggregation)), kind),
            AggregationFunction.Variance => new MomentsState(standardDeviation: false),
            AggregationFunction.Stddev => new MomentsState(standardDeviation: true),
            AggregationFunction.CountDistinct => new DistinctState(),
            AggregationFunction.ApproxPercentile => new PercentileSketchState(aggregation.Percentile ?? throw new ArgumentException("approx_percentile needs p", nameof(aggregation))),
            _ => throw new ArgumentException($"{function} is not a known function", nameof(aggregation)),
        };
    }
}
