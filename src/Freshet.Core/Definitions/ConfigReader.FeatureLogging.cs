using Freshet.Model;

namespace Freshet.Definitions;

/// <summary>The <c>feature_logging:</c> section of <c>freshet.yaml</c> (docs/quality.md).</summary>
internal static partial class ConfigReader
{
    private static FeatureLoggingConfig FeatureLogging(YamlMap parent, FeatureLoggingConfig defaults)
    {
        var node = parent.Value("feature_logging");
        var m = node is null ? null : YamlMap.Of(node, parent.Context, "config.feature_logging", "feature_logging");
        if (m is null)
        {
            return defaults;
        }

        var rate = m.Double("sample_rate");
        if (rate is < 0 or > 1)
        {
            m.Context.Error(m.Value("sample_rate")!, $"feature_logging: 'sample_rate' must be a number from 0 to 1 (0.01 logs one request in a hundred), not '{m.String("sample_rate")}'");
            rate = null;
        }

        var path = m.String("path");
        if (path is not null && path.Trim().Length == 0)
        {
            m.Context.Error(m.Value("path")!, "feature_logging: 'path' must name a directory (relative to the data directory), not an empty string");
            path = null;
        }

        var flush = Staleness(m, "flush_interval");
        if (flush is { } f && f <= TimeSpan.Zero)
        {
            m.Context.Error(m.Value("flush_interval")!, "feature_logging: 'flush_interval' must be longer than 0, e.g. 10s");
            flush = null;
        }

        var config = new FeatureLoggingConfig
        {
            SampleRate = rate ?? defaults.SampleRate,
            Path = path ?? defaults.Path,
            FlushInterval = flush ?? defaults.FlushInterval,
            MaxFileRows = m.Int("max_file_rows", 1, int.MaxValue) ?? defaults.MaxFileRows,
            QueueCapacity = m.Int("queue_capacity", 1, 10_000_000) ?? defaults.QueueCapacity,
        };
        m.ReportUnknownKeys();
        return config;
    }
}
