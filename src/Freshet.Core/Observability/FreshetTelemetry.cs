using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Freshet.Observability;

/// <summary>
/// Freshet's instruments (docs/observability.md): one <see cref="System.Diagnostics.Metrics.Meter"/> and one
/// <see cref="System.Diagnostics.ActivitySource"/>, both named "Freshet", BCL only so that Core stays light. A host
/// exports them (the server: Prometheus <c>/metrics</c> and OTLP); with no listener they cost a flag check.
/// </summary>
public static class FreshetTelemetry
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "Freshet";

    /// <summary>Spans of serving, pushes, store calls and stream batches.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>The process-wide meter of Freshet's counters and histograms.</summary>
    public static readonly Meter Meter = new(Name);

    /// <summary>
    /// Bucket bounds in seconds for latencies from tens of microseconds (an L1 hit) to seconds (a slow store): the
    /// default bounds of the SDKs start at 5 ms, which would put every cached read in the first bucket.
    /// </summary>
    public static readonly IReadOnlyList<double> LatencyBuckets =
        [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Time of one online store call, per tier (l1, l2, l3), store and operation.</summary>
    public static readonly Histogram<double> StoreDuration = Meter.CreateHistogram(
        "freshet.online_store.duration", "s", "Time of one online store call, per tier, store and operation.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary>Online store calls that threw, per tier, store and operation.</summary>
    public static readonly Counter<long> StoreErrors = Meter.CreateCounter<long>(
        "freshet.online_store.errors", "{error}", "Online store calls that threw, per tier, store and operation.");

    /// <summary>Events (pushed rows or stream events) reaching a view, per view, path and outcome.</summary>
    public static readonly Counter<long> IngestEvents = Meter.CreateCounter<long>(
        "freshet.ingest.events", "{event}", "Events that reached a view, per view, path (push, stream) and outcome (applied, rejected, skipped).");

    /// <summary>Events written to the dead-letter store, per view (empty when no view could read it), path and reason code.</summary>
    public static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>(
        "freshet.ingest.dead_letters", "{event}", "Events written to the dead-letter store, per view, path and reason (too_late is a late event).");

    /// <summary>Events polled from a stream source, per source.</summary>
    public static readonly Counter<long> StreamEvents = Meter.CreateCounter<long>(
        "freshet.stream.events", "{event}", "Events polled from a stream source (Kafka, NATS) and committed, per source.");

    /// <summary>Time of one stream batch from decode to commit, per source.</summary>
    public static readonly Histogram<double> StreamBatchDuration = Meter.CreateHistogram(
        "freshet.stream.batch.duration", "s", "Time of one stream batch from decode to commit, per source.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary>Time of one HTTP or gRPC request in the server, per endpoint (route or gRPC method) and HTTP status.</summary>
    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram(
        "freshet.request.duration", "s", "Time of one HTTP or gRPC request in the server, per endpoint and HTTP status.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary>Answered request errors, per endpoint, error code and HTTP status (5xx included).</summary>
    public static readonly Counter<long> RequestErrors = Meter.CreateCounter<long>(
        "freshet.request.errors", "{error}", "Requests answered with an error, per endpoint, error code and HTTP status.");

    /// <summary>Seconds elapsed between two <see cref="Stopwatch.GetTimestamp"/> readings.</summary>
    public static double Seconds(long start) => Stopwatch.GetElapsedTime(start).TotalSeconds;
}
