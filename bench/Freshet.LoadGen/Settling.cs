namespace Freshet.LoadGen;

/// <summary>
/// Getting the process to its steady state before timing it, and timing the closed-loop maxima side by side.
/// <para>
/// A fresh .NET process first runs each method from a quick, unoptimized compilation and recompiles the hot ones
/// with full optimization (guided by the profile it gathered) in the background, later. Here the servers, their
/// clients and the generator are one process, and every target's code (Freshet's endpoint and serializers, Kestrel,
/// HttpClient, gRPC, the Redis client) goes through that. Measured with 1-second closed-loop slices alternating
/// Freshet and the bare endpoint from a cold start (docs/benchmarks.md, "Warm-up"), both rose for 20–50 s, Freshet's
/// first second at about a fifth of its settled rate; a target timed first, for 4 s after a 1 s warm-up, ran at a fraction of what it
/// does once warm, and the ratio between targets said more about the order they ran in than about them.
/// </para>
/// </summary>
internal static class Settling
{
    private static readonly TimeSpan Slice = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs every target closed loop in turn, one slice each, until <paramref name="settle"/> has passed, and logs
    /// each round's rates (so the warm-up curve is in the output). Answers the last round's rate per target.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, double>> SettleAsync(IReadOnlyList<ILoadTarget> targets, TimeSpan settle, int inFlight, TimeSpan timeout, TextWriter log)
    {
        var last = new Dictionary<string, double>(StringComparer.Ordinal);
        if (settle <= TimeSpan.Zero || targets.Count == 0)
        {
            return last;
        }

        var until = DateTime.UtcNow + settle;
        for (var round = 1; DateTime.UtcNow < until; round++)
        {
            var line = $"  settle {round,3}:";
            foreach (var target in targets)
            {
                var (throughput, _) = await ClosedLoop.MaxThroughputAsync(target, inFlight, TimeSpan.Zero, Slice, timeout).ConfigureAwait(false);
                last[target.Name] = throughput;
                line += $" {target.Name} {throughput:F0}";
            }

            log.WriteLine(line + " req/s");
        }

        return last;
    }

    /// <summary>
    /// The closed-loop maximum of each target, measured side by side: <paramref name="duration"/> per target, cut
    /// into 1-second slices that the targets take in turn (in a rotating order), so that the machine's noise and
    /// any remaining warm-up fall on all of them alike. A target's maximum is the mean of its slices.
    /// </summary>
    public static async Task<IReadOnlyList<ClosedLoopMax>> MaximaAsync(IReadOnlyList<ILoadTarget> targets, int inFlight, TimeSpan warmup, TimeSpan duration, TimeSpan timeout)
    {
        var slices = Math.Max(1, (int)Math.Round(duration / Slice));
        var rates = targets.Select(_ => new List<double>()).ToArray();
        var errors = new long[targets.Count];
        for (var s = 0; s < slices; s++)
        {
            for (var k = 0; k < targets.Count; k++)
            {
                var i = (k + s) % targets.Count;
                var (throughput, e) = await ClosedLoop.MaxThroughputAsync(targets[i], inFlight, s == 0 ? warmup : TimeSpan.Zero, duration / slices, timeout).ConfigureAwait(false);
                rates[i].Add(throughput);
                errors[i] += e;
            }
        }

        return [.. targets.Select((t, i) => new ClosedLoopMax(t.Name, rates[i].Average(), rates[i].Min(), rates[i].Max(), errors[i]))];
    }
}

/// <summary>A target's closed-loop maximum: the mean of its slices, their spread, and the errors counted.</summary>
internal sealed record ClosedLoopMax(string Target, double Throughput, double SliceMin, double SliceMax, long Errors);
