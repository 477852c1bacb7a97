namespace Freshet.Aggregates;

/// <summary>
/// The states of fixed shape (count, integer and float sums, mean) updated straight from their bytes: the stored
/// numbers are read, the tile's events added to them in batch order, and the result written, with the same
/// arithmetic and the same checks as the state classes (whose codecs these call), but no state object, no virtual
/// call and no buffer-writer interface per state.
/// </summary>
internal sealed partial class TileRowUpdater
{
    /// <summary>How a state of a resolution is updated.</summary>
    private enum Shape : byte
    {
        Other,
        Count,
        Int64Sum,
        Float64Sum,
        Mean,
    }

    private Shape[] Shapes(Resolution resolution)
    {
        if (!_shapes.TryGetValue(resolution, out var shapes))
        {
            shapes = new Shape[resolution.States.Length];
            for (var i = 0; i < shapes.Length; i++)
            {
                shapes[i] = resolution.States[i].Create() switch
                {
                    CountState => Shape.Count,
                    Int64SumState => Shape.Int64Sum,
                    Float64SumState => Shape.Float64Sum,
                    MeanState => Shape.Mean,
                    _ => Shape.Other,
                };
            }

            _shapes[resolution] = shapes;
        }

        return shapes;
    }

    /// <summary>
    /// Adds the tile's events that pass <paramref name="spec"/>'s filter to the state in <paramref name="old"/> and
    /// writes it (length, bytes); false when none passes (the caller copies the old bytes).
    /// </summary>
    private bool WriteShaped(Shape shape, StateSpec spec, ReadOnlySpan<byte> old, IReadOnlyList<AggregationEvent> events,
        ReadOnlySpan<TileEvent> order, int k, int end, bool[] applied)
    {
        var any = false;
        long count = 0;
        long integer = 0;
        var sum = default(CompensatedSum);
        for (var q = k; q < end; q++)
        {
            var index = order[q].Event;
            var e = events[index];
            if (spec.Filter is { } filter && !Passes(filter, e.Values))
            {
                continue;
            }

            if (!any)
            {
                any = true;
                switch (shape)
                {
                    case Shape.Count:
                        count = CountState.Read(old);
                        break;
                    case Shape.Int64Sum:
                        (integer, count) = Int64SumState.Read(old);
                        break;
                    case Shape.Float64Sum:
                        (sum, count) = Float64SumState.Read(old);
                        break;
                    default:
                        (sum, count) = MeanState.Read(old);
                        break;
                }
            }

            applied[index] = true;
            if (spec.Column < 0)
            {
                // A count without a column counts events (never null).
                count++;
                continue;
            }

            ref readonly var value = ref e.Values[spec.Column];
            if (value.IsNull)
            {
                continue;
            }

            switch (shape)
            {
                case Shape.Count:
                    count++;
                    break;
                case Shape.Int64Sum:
                    integer = Int64SumState.Add(integer, value);
                    count = 1;
                    break;
                default:
                    sum.Add(NumericInput.Of(value));
                    count++;
                    break;
            }
        }

        if (!any)
        {
            return false;
        }

        var lengthAt = _output.Length;
        _output.WriteInt32(0);
        switch (shape)
        {
            case Shape.Count:
                CountState.Write(_output, count);
                break;
            case Shape.Int64Sum:
                Int64SumState.Write(_output, integer, count != 0);
                break;
            case Shape.Float64Sum:
                Float64SumState.Write(_output, sum, count != 0);
                break;
            default:
                MeanState.Write(_output, sum, count);
                break;
        }

        _output.PatchInt32(lengthAt, _output.Length - lengthAt - 4);
        return true;
    }
}
