using HdrHistogram;

namespace Freshet.LoadGen;

/// <summary>
/// One target at one offered rate: how many requests were due in the measured window, how many succeeded, the
/// achieved throughput, the latency histogram (microseconds, from due time to completion) of the successes, the
/// dispatcher's lag behind the schedule, and the errors by kind.
/// </summary>
internal sealed record RunResult(
    string Target,
    double OfferedRate,
    long Scheduled,
    long Ok,
    double Throughput,
    LongHistogram Latency,
    LongHistogram SendLag,
    IReadOnlyDictionary<string, long> Errors)
{
    public long ErrorCount => Scheduled - Ok;

    /// <summary>Scenario <c>d</c> and the soak: the pushes made during this run and their freshness.</summary>
    public FreshnessResult? Freshness { get; init; }

    /// <summary>The latency at <paramref name="percentile"/> (0-100) in milliseconds; NaN when nothing succeeded.</summary>
    public double Ms(double percentile) => Latency.TotalCount == 0 ? double.NaN : Latency.GetValueAtPercentile(percentile) / 1000.0;

    public double MaxMs => Latency.TotalCount == 0 ? double.NaN : Latency.GetMaxValue() / 1000.0;

    /// <summary>How many successful requests took at least <paramref name="micros"/>.</summary>
    public long CountAtOrAbove(long micros)
    {
        long n = 0;
        foreach (var v in Latency.RecordedValues())
        {
            if (Latency.LowestEquivalentValue(v.ValueIteratedTo) >= micros)
            {
                n += v.CountAtValueIteratedTo;
            }
        }

        return n;
    }
}
