using Freshet.Model;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

internal static partial class ConfigReader
{
    /// <summary><c>auth: {enabled: true|false}</c>; absent means enabled.</summary>
    private static AuthConfig Auth(YamlMap parent, AuthConfig defaults)
    {
        var node = parent.Value("auth");
        if (node is null)
        {
            return defaults;
        }

        if (node is not YamlMappingNode)
        {
            parent.Context.Error(node, $"auth must be a mapping such as 'auth: {{enabled: true}}', not {YamlMap.Describe(node)}");
            return defaults;
        }

        var m = YamlMap.Of(node, parent.Context, "config.auth", "auth");
        if (m is null)
        {
            return defaults;
        }

        var auth = new AuthConfig { Enabled = m.Bool("enabled") ?? defaults.Enabled };
        m.ReportUnknownKeys();
        return auth;
    }
}
