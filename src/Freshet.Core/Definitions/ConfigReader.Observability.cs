using Freshet.Model;

namespace Freshet.Definitions;

internal static partial class ConfigReader
{
    private static ObservabilityConfig Observability(YamlMap parent, ObservabilityConfig defaults)
    {
        var node = parent.Value("observability");
        var m = node is null ? null : YamlMap.Of(node, parent.Context, "config.observability", "observability");
        if (m is null)
        {
            return defaults;
        }

        var config = new ObservabilityConfig
        {
            Metrics = m.Bool("metrics") ?? defaults.Metrics,
            Tracing = Tracing(m),
        };
        m.ReportUnknownKeys();
        return config;
    }

    private static TracingConfig? Tracing(YamlMap parent)
    {
        var node = parent.Value("tracing");
        var m = node is null ? null : YamlMap.Of(node, parent.Context, "config.observability.tracing", "observability.tracing");
        if (m is null)
        {
            return null;
        }

        var text = m.String("otlp_endpoint", required: true);
        Uri? endpoint = null;
        if (text is not null)
        {
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                endpoint = uri;
            }
            else
            {
                m.Context.Error(m.Value("otlp_endpoint")!, $"observability.tracing: 'otlp_endpoint' must be an http:// or https:// URL such as http://127.0.0.1:4318, not '{text}'");
            }
        }

        var defaults = new TracingConfig { OtlpEndpoint = new Uri("http://127.0.0.1:4318") };
        var protocol = m.String("protocol") ?? defaults.Protocol;
        if (!TracingConfig.Protocols.Contains(protocol))
        {
            m.Context.Error(m.Value("protocol")!, $"observability.tracing: unknown protocol '{protocol}'; expected one of {string.Join(", ", TracingConfig.Protocols)}");
            protocol = defaults.Protocol;
        }

        var ratio = m.Double("sample_ratio");
        if (ratio is < 0 or > 1)
        {
            m.Context.Error(m.Value("sample_ratio")!, $"observability.tracing: 'sample_ratio' must be from 0 to 1, not {ratio.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            ratio = null;
        }

        var serviceName = m.String("service_name");
        if (serviceName is { Length: 0 })
        {
            m.Context.Error(m.Value("service_name")!, "observability.tracing: 'service_name' must not be empty");
            serviceName = null;
        }

        m.ReportUnknownKeys();
        return endpoint is null ? null : defaults with
        {
            OtlpEndpoint = endpoint,
            Protocol = protocol,
            SampleRatio = ratio ?? defaults.SampleRatio,
            ServiceName = serviceName ?? defaults.ServiceName,
        };
    }
}
