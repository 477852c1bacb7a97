using System.Globalization;
using System.Text.Json.Nodes;

namespace Freshet.Cli.Tests;

/// <summary>One card transaction of the fraud template's <c>transactions</c> source.</summary>
internal sealed record Txn(string Account, string Merchant, double Amount, bool CardPresent, DateTimeOffset At)
{
    /// <summary>The event time in microseconds since the epoch (the precision Freshet keeps).</summary>
    public long Micros => (At - DateTimeOffset.UnixEpoch).Ticks / 10;

    /// <summary>RFC 3339 with microseconds, as the JSON decoder and the push API read it.</summary>
    public string Ts => At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The event as a Kafka or NATS message.</summary>
    public string Json() =>
        $$"""{"ts":"{{Ts}}","account_id":"{{Account}}","merchant_id":"{{Merchant}}","amount":{{Amount.ToString("R", CultureInfo.InvariantCulture)}},"currency":"EUR","card_present":{{(CardPresent ? "true" : "false")}}}""";

    /// <summary>Events as the column-major <c>df</c> of a Feast <c>POST /push</c>.</summary>
    public static string PushBody(string source, IReadOnlyList<Txn> txns)
    {
        var df = new JsonObject
        {
            ["account_id"] = new JsonArray([.. txns.Select(t => (JsonNode)t.Account)]),
            ["merchant_id"] = new JsonArray([.. txns.Select(t => (JsonNode)t.Merchant)]),
            ["amount"] = new JsonArray([.. txns.Select(t => (JsonNode)t.Amount)]),
            ["ts"] = new JsonArray([.. txns.Select(t => (JsonNode)t.Ts)]),
            ["card_present"] = new JsonArray([.. txns.Select(t => (JsonNode)t.CardPresent)]),
        };
        return new JsonObject { ["push_source_name"] = source, ["to"] = "online", ["df"] = df }.ToJsonString();
    }

    /// <summary>
    /// Seeded transactions of <paramref name="accounts"/> accounts over 40 merchants, timed before <paramref name="now"/>:
    /// a third in the last hour, a third 1 h to 23 h back, a third 26 h to 6 days back. No event falls within an hour of
    /// the 24 h windows' edge or of the merchant view's 25 h retention, so only the 1 h windows move while a test runs.
    /// </summary>
    public static List<Txn> Generate(Random random, int count, int accounts, DateTimeOffset now)
    {
        var txns = new List<Txn>(count);
        for (var i = 0; i < count; i++)
        {
            var back = (i % 3) switch
            {
                0 => TimeSpan.FromSeconds(1 + (random.NextDouble() * 3_600)),
                1 => TimeSpan.FromHours(1 + (random.NextDouble() * 22)),
                _ => TimeSpan.FromHours(26 + (random.NextDouble() * 118)),
            };

            // Microsecond event times: ties are rare but possible, and last_n orders them by value.
            var at = now - TimeSpan.FromTicks(back.Ticks / 10 * 10);
            txns.Add(new Txn($"acct{random.Next(accounts)}", $"m{random.Next(40)}", Math.Round(1 + (random.NextDouble() * 499), 2), random.Next(4) != 0, at));
        }

        return txns;
    }
}

/// <summary>
/// The fraud template's windowed features computed by brute force from the events, with DESIGN §3's rule: the value at
/// <c>T</c> covers every event with <c>floor_H(T) − W ≤ t &lt; T</c>, H the window's default hop (1 min up to 1 h,
/// 1 h from 12 h to 12 days). Nothing here uses Freshet's code.
/// </summary>
internal static class FraudBruteForce
{
    private const long Minute = 60_000_000;
    private const long Hour = 60 * Minute;
    private const long Day = 24 * Hour;

    /// <summary>DDSketch's relative accuracy α, as documented in docs/aggregations.md.</summary>
    public const double PercentileAccuracy = 0.01;

    /// <summary>The events of a window of length <paramref name="window"/> and hop <paramref name="hop"/> at <paramref name="t"/> (µs).</summary>
    public static IEnumerable<Txn> In(this IEnumerable<Txn> txns, long t, long window, long hop)
    {
        var start = t - (t % hop) - window;
        return txns.Where(x => x.Micros >= start && x.Micros < t);
    }

    /// <summary>The expected value of each <c>account_txn_stats</c> feature for one account at <paramref name="t"/>; null is NULL_VALUE.</summary>
    public static Dictionary<string, object?> Account(IEnumerable<Txn> mine, long t)
    {
        var list = mine.ToList();
        var hour = list.In(t, Hour, Minute).ToList();
        var day = list.In(t, Day, Hour).ToList();
        var week = list.In(t, 7 * Day, Hour).ToList();
        var cnp = hour.Where(x => !x.CardPresent).ToList();
        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["count_1h"] = (long)hour.Count,
            ["amount_sum_1d"] = day.Count == 0 ? null : day.Sum(x => x.Amount),
            ["amount_mean_7d"] = week.Count == 0 ? null : week.Average(x => x.Amount),
            ["merchant_id_count_distinct_1d"] = (long)day.Select(x => x.Merchant).Distinct().Count(),
            ["amount_p95_7d"] = week.Count == 0 ? null : NearestRank(week.Select(x => x.Amount), 0.95),
            ["merchant_id_last5_1d"] = day.Count == 0 ? null : day
                .OrderByDescending(x => x.Micros).ThenByDescending(x => x.Merchant, StringComparer.Ordinal)
                .Take(5).Select(x => x.Merchant).ToList(),
            ["cnp_amount_sum_1h"] = cnp.Count == 0 ? null : cnp.Sum(x => x.Amount),
        };
    }

    /// <summary>The expected <c>merchant_txn_stats</c> features for one merchant at <paramref name="t"/>.</summary>
    public static Dictionary<string, object?> Merchant(IEnumerable<Txn> theirs, long t)
    {
        var list = theirs.ToList();
        var day = list.In(t, Day, Hour).Select(x => x.Amount).ToList();
        double? stddev = null;
        if (day.Count > 0)
        {
            var mean = day.Average();
            stddev = Math.Sqrt(day.Sum(a => (a - mean) * (a - mean)) / day.Count);
        }

        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["count_1h"] = (long)list.In(t, Hour, Minute).Count(),
            ["amount_stddev_1d"] = stddev,
        };
    }

    /// <summary>The r-th smallest value, r = max(1, ceil(p·n)) (nearest rank, as the sketch answers).</summary>
    public static double NearestRank(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToList();
        var rank = Math.Max(1, (int)Math.Ceiling(p * sorted.Count));
        return sorted[rank - 1];
    }

    /// <summary>
    /// Null when <paramref name="served"/> (a Feast JSON value) matches <paramref name="expected"/> under the feature's
    /// documented accuracy, else why not: counts, distinct counts (exact below 1,024 values) and last_n exactly; sums,
    /// means and stddev to 1e-9 relative; the p95 within α·|v| of the nearest-rank value v.
    /// </summary>
    public static string? Mismatch(string feature, object? expected, JsonNode? served, string status)
    {
        if (expected is null)
        {
            return status == "NULL_VALUE" && served is null ? null : $"expected NULL_VALUE, got {status} {served?.ToJsonString()}";
        }

        if (status != "PRESENT" || served is null)
        {
            return $"expected {Show(expected)}, got {status} {served?.ToJsonString()}";
        }

        switch (expected)
        {
            case long n:
                return served.GetValue<long>() == n ? null : $"expected {n}, got {served.ToJsonString()}";
            case List<string> list:
                var got = served.AsArray().Select(v => v!.GetValue<string>()).ToList();
                return got.SequenceEqual(list, StringComparer.Ordinal) ? null : $"expected [{string.Join(", ", list)}], got [{string.Join(", ", got)}]";
            case double d:
                var value = served.GetValue<double>();
                // The sketch's bucket answers are within α of every value they hold; 1e-12 covers the float rounding of that bound.
                var bound = feature.Contains("_p95_", StringComparison.Ordinal) ? (PercentileAccuracy * Math.Abs(d)) + (1e-12 * Math.Abs(d)) : 1e-9 * Math.Max(1, Math.Abs(d));
                return Math.Abs(value - d) <= bound ? null : $"expected {d.ToString("R", CultureInfo.InvariantCulture)} (± {bound.ToString("G3", CultureInfo.InvariantCulture)}), got {value.ToString("R", CultureInfo.InvariantCulture)}";
            default:
                throw new InvalidOperationException($"no comparison for {expected.GetType()}");
        }
    }

    private static string Show(object o) => o is List<string> l ? $"[{string.Join(", ", l)}]" : Convert.ToString(o, CultureInfo.InvariantCulture) ?? "";
}
