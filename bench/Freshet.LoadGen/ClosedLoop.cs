using System.Diagnostics;

namespace Freshet.LoadGen;

/// <summary>
/// The "find the maximum rate" step: <c>N</c> workers each send, wait for the answer, send again, for a fixed
/// time. The completions per second are the most the target sustains with <c>N</c> requests in flight; open-loop
/// sweeps are then offered as fractions of it. (Closed-loop latencies are not reported: they hide queueing.)
/// </summary>
internal static class ClosedLoop
{
    public static async Task<(double Throughput, long Errors)> MaxThroughputAsync(ILoadTarget target, int inFlight, TimeSpan warmup, TimeSpan duration, TimeSpan timeout)
    {
        long ok = 0;
        long errors = 0;
        var measuring = false;
        var start = Stopwatch.GetTimestamp();
        var stopAt = start + (long)((warmup + duration).TotalSeconds * Stopwatch.Frequency);
        var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);

        async Task WorkerAsync()
        {
            await Task.Yield();
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                string? error;
                using var cts = new CancellationTokenSource(timeout);
                try
                {
                    error = await target.SendAsync(cts.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    error = e.GetType().Name;
                }

                if (!measuring && Stopwatch.GetTimestamp() >= measureFrom)
                {
                    measuring = true;
                }

                if (Volatile.Read(ref measuring))
                {
                    if (error is null)
                    {
                        Interlocked.Increment(ref ok);
                    }
                    else
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
            }
        }

        var workers = new Task[inFlight];
        for (var w = 0; w < inFlight; w++)
        {
            workers[w] = WorkerAsync();
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        var seconds = (Stopwatch.GetTimestamp() - measureFrom) / (double)Stopwatch.Frequency;
        return (ok / seconds, errors);
    }
}
