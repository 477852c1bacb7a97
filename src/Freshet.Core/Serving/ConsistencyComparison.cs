using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// Compares online and offline values per feature and keeps the counts, the largest differences and the first
/// mismatches. Float sums, means, standard deviations and variances are equal within the relative tolerance
/// (compensated summation in tiles merged in a different grouping may differ in the last bits); every other
/// value, floats included (min, max, first, last, percentiles pick a value), must be identical.
/// </summary>
internal sealed class Comparison
{
    private readonly ComparedFeature[] _features;
    private readonly ConsistencyOptions _options;
    private readonly bool[] _tolerant;
    private readonly long[] _compared;
    private readonly long[] _mismatches;
    private readonly long[] _nonNull;
    private readonly double[] _maxAbsolute;
    private readonly double[] _maxRelative;
    private readonly List<ConsistencyMismatch> _examples = [];

    public Comparison(IReadOnlyList<ComparedFeature> features, ConsistencyOptions options)
    {
        _features = [.. features];
        _options = options;
        var n = _features.Length;
        _tolerant = [.. _features.Select(f => f.Tolerant)];
        _compared = new long[n];
        _mismatches = new long[n];
        _nonNull = new long[n];
        _maxAbsolute = new double[n];
        _maxRelative = new double[n];
    }

    public void Compare(int slot, string entity, long atMicros, FeatureValue online, FeatureValue offline)
    {
        var name = _features[slot].Name;
        if (_options.AlterOnline is { } alter)
        {
            online = alter(name, online);
        }

        _compared[slot]++;
        bool equal;
        if (online.IsNull || offline.IsNull)
        {
            equal = online.IsNull && offline.IsNull;
        }
        else
        {
            _nonNull[slot]++;
            equal = online.Equals(offline);
            if (IsNumber(online) && IsNumber(offline))
            {
                double a = online.ToDouble(), b = offline.ToDouble();
                var absolute = Math.Abs(a - b);
                var scale = Math.Max(Math.Abs(a), Math.Abs(b));
                var relative = absolute == 0 ? 0 : absolute / scale;
                _maxAbsolute[slot] = Math.Max(_maxAbsolute[slot], absolute);
                _maxRelative[slot] = Math.Max(_maxRelative[slot], relative);
                if (!equal && _tolerant[slot] && online.Kind is ValueKind.Float64 or ValueKind.Float32 && online.Kind == offline.Kind)
                {
                    equal = absolute <= _options.RelativeTolerance * Math.Max(1, Math.Abs(b));
                }
            }
        }

        if (!equal)
        {
            _mismatches[slot]++;
            if (_examples.Count < _options.MaxExamples)
            {
                _examples.Add(new ConsistencyMismatch(entity, Micros.ToDateTimeOffset(atMicros), name, online, offline));
            }
        }
    }

    public ConsistencyReport Report(string view, long events, long badRows, long rejected, int entities, int times)
    {
        var features = new FeatureConsistency[_features.Length];
        for (var s = 0; s < features.Length; s++)
        {
            features[s] = new FeatureConsistency(_features[s].Name, _features[s].Function, _tolerant[s], _compared[s], _mismatches[s], _nonNull[s],
                _maxAbsolute[s], _maxRelative[s]);
        }

        return new ConsistencyReport(view, events, badRows, rejected, entities, times, _compared.Sum(), _mismatches.Sum(), features, _examples);
    }

    /// <summary>The features of an aggregation view: float sums, means, stddev and variance compared within the tolerance.</summary>
    public static ComparedFeature[] Of(CompiledAggregationView view) =>
        [.. view.Aggregations.Select(s => new ComparedFeature(s.Name, Aggregation.NameOf(s.Aggregation.Function),
            s.Aggregation.Function is AggregationFunction.Sum or AggregationFunction.Mean or AggregationFunction.Stddev or AggregationFunction.Variance))];

    /// <summary>The features of a plain view: stored values, compared exactly.</summary>
    public static ComparedFeature[] Of(FeatureView view) => [.. view.Schema.Select(f => new ComparedFeature(f.Name, PlainFunction, false))];

    /// <summary>What the report calls a plain view's feature in place of an aggregation function.</summary>
    public const string PlainFunction = "latest";

    private static bool IsNumber(FeatureValue v) => v.Kind is ValueKind.Int32 or ValueKind.Int64 or ValueKind.Float32 or ValueKind.Float64;
}

/// <summary>One feature the check compares: its name, its function (or <c>latest</c>), and whether floats get the tolerance.</summary>
internal sealed record ComparedFeature(string Name, string Function, bool Tolerant);
