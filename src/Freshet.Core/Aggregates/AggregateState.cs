using System.Buffers;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// The mergeable intermediate state of one aggregation function (DESIGN §3): events are added to the state of
/// their tile, tiles are merged in any order, and the merged state gives the feature value. A state is written
/// to bytes (its compact tile form) and merged straight from those bytes, so reading a window allocates no
/// object per tile. Instances are not thread-safe; create one per tile or reuse one with <see cref="Clear"/>.
/// </summary>
/// <remarks>
/// Rules every function keeps: merging is associative and commutative (up to the stated error of sketches and
/// the rounding of compensated float sums); merging an empty state changes nothing; null input values are
/// ignored (<c>count</c> without a column counts events, so it is given a non-null marker value).
/// </remarks>
public abstract class AggregateState
{
    /// <summary>True when nothing has been added or merged since creation or <see cref="Clear"/>.</summary>
    public abstract bool IsEmpty { get; }

    /// <summary>Adds one event's value (of the aggregation's input type, or null: ignored) at its event time.</summary>
    public abstract void Add(in FeatureValue value, long eventMicros);

    /// <summary>Merges another state of the same function and parameters into this one.</summary>
    public abstract void Merge(AggregateState other);

    /// <summary>Merges a state written by <see cref="WriteTo"/> (of the same function and parameters).</summary>
    public abstract void MergeFrom(ReadOnlySpan<byte> serialized);

    /// <summary>Writes the state in its compact form; an empty state may write nothing.</summary>
    public abstract void WriteTo(IBufferWriter<byte> output);

    /// <summary>
    /// The feature value of the state: of <see cref="AggregateFunctions.OutputType"/>, or null when there is no
    /// value (an empty mean, min, ...); <c>count</c> and <c>count_distinct</c> of nothing are 0.
    /// </summary>
    public abstract FeatureValue Result();

    /// <summary>Empties the state for reuse.</summary>
    public abstract void Clear();
}

/// <summary>Creates the state of an aggregation.</summary>
public static partial class AggregateFunctions
{
    /// <summary>The type of the aggregated value for an input column of <paramref name="input"/> (null for count).</summary>
    public static FeatureType OutputType(Model.Aggregation aggregation, FeatureType? input)
    {
        ArgumentNullException.ThrowIfNull(aggregation);
        return Model.Aggregation.OutputType(aggregation.Function, input);
    }
}
