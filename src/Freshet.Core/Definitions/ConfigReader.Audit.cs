using Freshet.Model;

namespace Freshet.Definitions;

/// <summary>Reads the <c>audit</c> section of freshet.yaml.</summary>
internal static partial class ConfigReader
{
    private static AuditConfig Audit(YamlMap parent, AuditConfig defaults)
    {
        var node = parent.Value("audit");
        var m = node is null ? null : YamlMap.Of(node, parent.Context, "config.audit", "audit");
        if (m is null)
        {
            return defaults;
        }

        var rate = m.Double("read_sample_rate");
        if (rate is < 0 or > 1)
        {
            m.Context.Error(m.Value("read_sample_rate")!, $"audit: 'read_sample_rate' must be from 0 (no reads) to 1 (every read), not {rate}");
            rate = null;
        }

        var path = m.String("path");
        if (path is { Length: 0 })
        {
            m.Context.Error(m.Value("path")!, "audit: 'path' must name a directory (it was empty)");
            path = null;
        }

        var audit = new AuditConfig
        {
            Enabled = m.Bool("enabled") ?? defaults.Enabled,
            ReadSampleRate = rate ?? defaults.ReadSampleRate,
            Path = path ?? defaults.Path,
        };
        m.ReportUnknownKeys();
        return audit;
    }
}
