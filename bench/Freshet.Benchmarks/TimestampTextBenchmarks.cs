using System.Globalization;
using BenchmarkDotNet.Attributes;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// Formatting the 5,000 event times of a 100 x 50 answer, side by side in one run: through a custom
/// <see cref="DateTime"/> format string (how <c>FeatureValueJson.WriteTimestamp</c> did it before issue 8's
/// profile) and digit by digit into UTF-8 (<see cref="FeatureValueJson.FormatTimestamp"/>, now). The answer
/// encoder also formats each time once per row and view instead of once per value (50 -> 5 per row).
/// </summary>
[MemoryDiagnoser]
public class TimestampTextBenchmarks
{
    private const int Values = 5_000;
    private readonly long[] _micros = new long[Values];
    private readonly char[] _chars = new char[32];
    private readonly byte[] _bytes = new byte[FeatureValueJson.MaxTimestampBytes];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261129);
        for (var i = 0; i < Values; i++)
        {
            _micros[i] = 1_764_800_000_000_000 + random.NextInt64(1_000_000_000_000);
        }
    }

    [Benchmark(Baseline = true, Description = "DateTime format string")]
    public int FormatString()
    {
        var total = 0;
        foreach (var micros in _micros)
        {
            var t = Micros.ToDateTimeOffset(micros).UtcDateTime;
            var format = micros % 1_000_000 == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
            t.TryFormat(_chars, out var n, format, CultureInfo.InvariantCulture);
            total += n;
        }

        return total;
    }

    [Benchmark(Description = "digits into UTF-8")]
    public int Digits()
    {
        var total = 0;
        foreach (var micros in _micros)
        {
            total += FeatureValueJson.FormatTimestamp(micros, _bytes);
        }

        return total;
    }
}
