using Freshet.Model;
using Freshet.Security;

namespace Freshet.Cli;

internal static partial class Hosting
{
    /// <summary>
    /// The project's API keys (docs/security.md): next to a PostgreSQL registry, in PostgreSQL, so that every server
    /// of the project sees them; else <c>DATA/auth/keys.json</c>. A PostgreSQL store is <see cref="IAsyncDisposable"/>.
    /// </summary>
    public static IApiKeyStore OpenKeyStore(string repoDirectory, RepoConfig config) => config.Registry.Type == "postgres"
        ? new Freshet.Postgres.PostgresApiKeyStore(ConnectionString(config.Registry, "registry"), config.Project)
        : new FileApiKeyStore(Path.Combine(Path.GetFullPath(repoDirectory), config.DataDirectory, "auth"));
}
