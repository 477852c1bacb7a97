namespace Freshet.Model;

/// <summary>
/// Sampled logging of served feature vectors (<c>feature_logging:</c> in <c>freshet.yaml</c>, docs/quality.md):
/// a fraction of <c>get-online-features</c> responses is written as Parquet under the data directory, for drift
/// checks against a training profile. Off unless <see cref="SampleRate"/> is above 0.
/// </summary>
public sealed record FeatureLoggingConfig
{
    /// <summary>The fraction of requests logged, from 0 (off, the default) to 1 (every request).</summary>
    public double SampleRate { get; init; }

    /// <summary>The log directory, relative to the data directory (or absolute).</summary>
    public string Path { get; init; } = "feature_log";

    /// <summary>How often buffered rows are written to a new file (files also roll at <see cref="MaxFileRows"/>).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The most rows (one per entity row and feature) one file holds.</summary>
    public int MaxFileRows { get; init; } = 1_000_000;

    /// <summary>How many sampled responses may wait for the writer; past it, responses are dropped and counted.</summary>
    public int QueueCapacity { get; init; } = 10_000;

    /// <summary>Whether anything is logged.</summary>
    public bool Enabled => SampleRate > 0;
}
