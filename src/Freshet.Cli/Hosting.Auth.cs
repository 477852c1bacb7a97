using Freshet.Model;
using Freshet.Security;

namespace Freshet.Cli;

internal static partial class Hosting
{
    /// <summary>The project's API keys: <c>DATA/auth/keys.json</c> (docs/security.md).</summary>
    public static IApiKeyStore OpenKeyStore(string repoDirectory, RepoConfig config) =>
        new FileApiKeyStore(Path.Combine(Path.GetFullPath(repoDirectory), config.DataDirectory, "auth"));
}
