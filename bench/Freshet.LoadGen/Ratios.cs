using System.Globalization;
using System.Text;

namespace Freshet.LoadGen;

/// <summary>The goals as ratios measured in the same run.</summary>
internal static class Ratios
{
    public static string Describe(ScenarioReport report)
    {
        var sb = new StringBuilder();
        if (report.ClosedLoopMax.TryGetValue(Names.FreshetHttp, out var freshet) && report.ClosedLoopMax.TryGetValue(Names.BareHttp, out var bare))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"throughput freshet-http / bare-http (closed loop max): {freshet / bare:F2} (goal >= 0.8)");
        }

        foreach (var (name, grpc) in report.ClosedLoopMax.Where(m => IsGrpc(m.Key)))
        {
            if (freshet > 0)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"throughput {name} / freshet-http (closed loop max): {grpc / freshet:F2}");
            }
        }

        var half = Nearest(report, 0.5);
        if (half is not null)
        {
            var p99 = report.Runs.Where(r => r.OfferedRate == half.Value && r.Latency.TotalCount > 0).ToDictionary(r => r.Target, r => r.Ms(99), StringComparer.Ordinal);
            if (p99.TryGetValue(Names.FreshetHttp, out var f))
            {
                var others = new List<(string, string)> { (Names.BareHttp, " (goal <= 1.5)") };
                others.AddRange(p99.Keys.Where(IsGrpc).Order(StringComparer.Ordinal).Select(g => (g, "")));
                others.Add((Names.RedisMget, ""));
                foreach (var (other, goal) in others)
                {
                    if (p99.TryGetValue(other, out var o) && o > 0)
                    {
                        sb.AppendLine(CultureInfo.InvariantCulture, $"p99 at {half.Value:F0}/s ({half.Value / report.MaxRate:P0} of the max): freshet-http {f:F3} ms / {other} {o:F3} ms = {f / o:F2}{goal}");
                    }
                }
            }
        }

        return sb.ToString();
    }

    private static bool IsGrpc(string target) => target.StartsWith(Names.FreshetGrpc, StringComparison.Ordinal);

    /// <summary>The offered rate closest to <paramref name="fraction"/> of the maximum.</summary>
    public static double? Nearest(ScenarioReport report, double fraction)
    {
        if (report.Runs.Count == 0)
        {
            return null;
        }

        var want = fraction * report.MaxRate;
        return report.Runs.Select(r => r.OfferedRate).OrderBy(r => Math.Abs(r - want)).First();
    }
}
