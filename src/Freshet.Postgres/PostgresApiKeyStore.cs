using Freshet.Security;
using Npgsql;

namespace Freshet.Postgres;

/// <summary>
/// The API keys of a project in PostgreSQL, next to a PostgreSQL registry: one row per project in
/// <c>freshet_api_keys</c> with a version and the whole key set (hashes, never keys) as JSON, so that every server
/// of the project, on any machine, sees the same keys. A change locks the row (<c>SELECT ... FOR UPDATE</c>) for the
/// read-change-write; servers poll the version, one small query per poll.
/// </summary>
public sealed class PostgresApiKeyStore : IApiKeyStore, IAsyncDisposable
{
    /// <summary>The table holding the keys.</summary>
    public const string TableName = "freshet_api_keys";

    private const string Ddl = """
        CREATE TABLE IF NOT EXISTS freshet_api_keys (
            project text COLLATE "C" PRIMARY KEY,
            version bigint NOT NULL,
            keys json NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now());
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresSchema _schema;

    /// <summary>Opens the keys of <paramref name="project"/> at <paramref name="connectionString"/> (nothing is sent until first use).</summary>
    public PostgresApiKeyStore(string connectionString, string project)
    {
        ArgumentException.ThrowIfNullOrEmpty(project);
        _dataSource = PostgresConnection.CreateDataSource(connectionString);
        Project = project;
        _schema = new PostgresSchema(_dataSource, 0x46524553_4B455953, Ddl);
    }

    /// <summary>The project whose keys these are.</summary>
    public string Project { get; }

    private string Location => $"{PostgresConnection.Describe(_dataSource)} (table {TableName}, project '{Project}')";

    /// <inheritdoc />
    public async ValueTask<ApiKeySet> LoadAsync(CancellationToken cancellationToken = default)
    {
        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT keys::text FROM freshet_api_keys WHERE project = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string json ? ApiKeySet.FromJson(json, Location) : ApiKeySet.Empty;
    }

    /// <inheritdoc />
    public async ValueTask<string> ChangeTokenAsync(CancellationToken cancellationToken = default)
    {
        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT version FROM freshet_api_keys WHERE project = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";
    }

    /// <inheritdoc />
    public async ValueTask<ApiKeySet> UpdateAsync(Func<ApiKeySet, ApiKeySet> change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var ensure = new NpgsqlCommand("INSERT INTO freshet_api_keys (project, version, keys) VALUES ($1, 0, '{\"version\":0,\"keys\":[]}') ON CONFLICT (project) DO NOTHING", connection, transaction))
        {
            ensure.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
            await ensure.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        ApiKeySet current;
        await using (var read = new NpgsqlCommand("SELECT keys::text FROM freshet_api_keys WHERE project = $1 FOR UPDATE", connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
            current = ApiKeySet.FromJson((string)(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!, Location);
        }

        var next = change(current) with { Version = current.Version + 1 };
        await using (var write = new NpgsqlCommand("UPDATE freshet_api_keys SET version = $2, keys = $3::json, updated_at = now() WHERE project = $1", connection, transaction))
        {
            write.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
            write.Parameters.Add(new NpgsqlParameter<long> { TypedValue = next.Version });
            write.Parameters.Add(new NpgsqlParameter<string> { TypedValue = next.ToJson() });
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return next;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
