using System.Diagnostics;
using System.Net.Sockets;
using HdrHistogram;

namespace Freshet.LoadGen;

/// <summary>How one run is shaped: rate, warm-up and measured time, per-request timeout, in-flight ceiling.</summary>
internal sealed record RunShape(double Rate, TimeSpan Warmup, TimeSpan Duration, TimeSpan Timeout, int MaxInFlight = 20_000);

/// <summary>
/// Open-loop, constant-rate load without coordinated omission: request <c>i</c> is due at <c>t0 + i/R</c> whatever
/// happened to the requests before it, and its latency is its completion time minus its due time (not its send
/// time), so a stall of the server, the client or the generator shows in every request due during it. Requests
/// are sent from one dispatcher thread and not awaited there, so many are in flight at once.
/// </summary>
internal static class OpenLoopRunner
{
    /// <summary>Histograms hold microseconds up to this value (a minute); later completions are clamped to it.</summary>
    public const long HighestMicros = 60_000_000;

    public static async Task<RunResult> RunAsync(ILoadTarget target, RunShape shape, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shape.Rate);
        var warmupCount = (long)Math.Round(shape.Rate * shape.Warmup.TotalSeconds);
        var total = warmupCount + (long)Math.Round(shape.Rate * shape.Duration.TotalSeconds);
        var latencies = new long[total];
        var sendLag = new long[total];
        var tasks = new Task[total];
        var ticksPerRequest = Stopwatch.Frequency / shape.Rate;
        var inFlight = new SemaphoreSlim(shape.MaxInFlight, shape.MaxInFlight);

        // A thread of its own: a busy thread pool must not delay the schedule (it would show as latency anyway, but
        // the dispatcher should not be the cause).
        long t0 = 0;
        var dispatcher = new Thread(() =>
        {
            t0 = Stopwatch.GetTimestamp();
            for (long i = 0; i < total; i++)
            {
                var due = t0 + (long)(i * ticksPerRequest);
                while (true)
                {
                    var ahead = due - Stopwatch.GetTimestamp();
                    if (ahead <= 0)
                    {
                        break;
                    }

                    // Coarse sleeps (about 1 ms on Linux): requests due meanwhile go out together when it wakes. A
                    // spin would be finer but would take one of the machine's two cores from the server.
                    Thread.Sleep(ahead > Stopwatch.Frequency / 1000 ? 1 : 0);
                }

                inFlight.Wait(cancellationToken);
                sendLag[i] = Stopwatch.GetTimestamp() - due;
                tasks[i] = SendOneAsync(target, i, due, shape.Timeout, latencies, inFlight);
            }
        })
        { IsBackground = true, Name = "loadgen-dispatcher", Priority = ThreadPriority.AboveNormal };
        dispatcher.Start();
        await Task.Run(dispatcher.Join, cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(tasks).ConfigureAwait(false);

        var histogram = new LongHistogram(HighestMicros, 3);
        var lag = new LongHistogram(HighestMicros, 3);
        long ok = 0;
        long lastCompletion = 0;
        for (var i = warmupCount; i < total; i++)
        {
            lag.RecordValue(Math.Clamp(Micros(sendLag[i]), 0, HighestMicros));
            if (latencies[i] >= 0)
            {
                ok++;
                histogram.RecordValue(Math.Min(HighestMicros, Micros(latencies[i])));
                lastCompletion = Math.Max(lastCompletion, t0 + (long)(i * ticksPerRequest) + latencies[i]);
            }
        }

        // Throughput over the measured window, or longer when the last responses came after it ended.
        var measureStart = t0 + (long)(warmupCount * ticksPerRequest);
        var window = Math.Max(shape.Duration.TotalSeconds, (Math.Max(lastCompletion, measureStart) - measureStart) / (double)Stopwatch.Frequency);
        var measuredErrors = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var i = warmupCount; i < total; i++)
        {
            if (latencies[i] < 0)
            {
                var kind = ErrorKinds[(int)(-latencies[i] - 1)];
                measuredErrors[kind] = measuredErrors.GetValueOrDefault(kind) + 1;
            }
        }

        return new RunResult(target.Name, shape.Rate, total - warmupCount, ok, ok / window, histogram, lag, measuredErrors);
    }

    private static long Micros(long ticks) => ticks * 1_000_000 / Stopwatch.Frequency;

    // Error kinds are interned so that a request's slot can hold -(index + 1) instead of a string.
    private static readonly List<string> ErrorKinds = [];
    private static readonly Lock ErrorKindsLock = new();

    private static int KindIndex(string kind)
    {
        lock (ErrorKindsLock)
        {
            var at = ErrorKinds.IndexOf(kind);
            if (at >= 0)
            {
                return at;
            }

            ErrorKinds.Add(kind);
            return ErrorKinds.Count - 1;
        }
    }

    private static async Task SendOneAsync(ILoadTarget target, long i, long due, TimeSpan timeout, long[] latencies, SemaphoreSlim inFlight)
    {
        // Leave the dispatcher thread at once: the synchronous start of a send must not delay the next due time.
        await Task.Yield();
        string? error;
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            error = await target.SendAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            error = "timeout";
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or IOException)
        {
            error = e is HttpRequestException { HttpRequestError: var kind } && kind != HttpRequestError.Unknown
                ? $"connection_{kind}"
                : "connection_error";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = $"exception_{e.GetType().Name}";
        }
        finally
        {
            inFlight.Release();
        }

        if (error is null)
        {
            latencies[i] = Stopwatch.GetTimestamp() - due;
        }
        else
        {
            latencies[i] = -(KindIndex(error) + 1);
        }
    }
}
