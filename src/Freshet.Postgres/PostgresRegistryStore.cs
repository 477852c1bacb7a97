using Freshet.Registry;
using Npgsql;
using NpgsqlTypes;

namespace Freshet.Postgres;

/// <summary>
/// The registry of a project in PostgreSQL, for teams: one row per project in <c>freshet_registry</c> holding
/// the registry version and the whole state (every object with its history, the JSON the file store writes).
/// </summary>
/// <remarks>
/// <para>
/// Optimistic versioning: a commit is one statement, <c>UPDATE ... SET version = next WHERE project = p AND
/// version = expected</c> (or, for the first commit, an <c>INSERT ... ON CONFLICT DO NOTHING</c>). Of two
/// commits planned against one version, the second waits on the first's row lock, then finds the version
/// changed and updates nothing: it fails with <see cref="RegistryConflictException"/> and nothing is lost.
/// A committed statement is durable (PostgreSQL's WAL, <c>synchronous_commit</c> as the server sets it).
/// </para>
/// <para>
/// <see cref="LoadAsync"/> first asks only for the version and returns the state it loaded before when the
/// version has not moved, so a server that polls the registry every second costs one small query per poll.
/// The tables are created on first use (<see cref="PostgresSchema"/>). Thread safe; several processes may
/// share one database, and several projects one table.
/// </para>
/// </remarks>
public sealed class PostgresRegistryStore : IRegistryStore, IAsyncDisposable
{
    /// <summary>The table holding the registries.</summary>
    public const string TableName = "freshet_registry";

    private const string Ddl = """
        CREATE TABLE IF NOT EXISTS freshet_registry (
            project text COLLATE "C" PRIMARY KEY,
            version bigint NOT NULL CHECK (version > 0),
            state json NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now());
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly PostgresSchema _schema;
    private RegistryState? _cached;

    /// <summary>Opens the registry of <paramref name="project"/> at <paramref name="connectionString"/> (nothing is sent until first use).</summary>
    public PostgresRegistryStore(string connectionString, string project)
        : this(PostgresConnection.CreateDataSource(connectionString), project, ownsDataSource: true)
    {
    }

    /// <summary>Opens the registry of <paramref name="project"/> over a data source the caller owns.</summary>
    public PostgresRegistryStore(NpgsqlDataSource dataSource, string project)
        : this(dataSource, project, ownsDataSource: false)
    {
    }

    private PostgresRegistryStore(NpgsqlDataSource dataSource, string project, bool ownsDataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrEmpty(project);
        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        Project = project;
        _schema = new PostgresSchema(dataSource, 0x46524553_48455401, Ddl);
    }

    /// <summary>The project whose registry this is.</summary>
    public string Project { get; }

    /// <summary>Where the registry is, for messages: host:port/database.</summary>
    public string Location => $"{PostgresConnection.Describe(_dataSource)} (table {TableName}, project '{Project}')";

    /// <inheritdoc />
    public async ValueTask<RegistryState?> LoadAsync(CancellationToken cancellationToken = default)
    {
        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        var cached = Volatile.Read(ref _cached);

        // The state is sent only when its version differs from the one already held.
        await using var command = new NpgsqlCommand("SELECT version, CASE WHEN version = $2 THEN NULL ELSE state::text END FROM freshet_registry WHERE project = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = cached?.Version ?? -1 });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        if (await reader.IsDBNullAsync(1, cancellationToken).ConfigureAwait(false))
        {
            return cached;
        }

        var version = reader.GetInt64(0);
        var state = RegistryStateJson.Parse(reader.GetString(1), Location);
        if (state.Version != version)
        {
            throw new RegistryCorruptException($"the registry in {Location} says version {state.Version} in its state and {version} in its row");
        }

        Volatile.Write(ref _cached, state);
        return state;
    }

    /// <inheritdoc />
    public async ValueTask CommitAsync(RegistryState next, long expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (next.Project != Project)
        {
            throw new ArgumentException($"the state is of project '{next.Project}'; this registry store holds project '{Project}'", nameof(next));
        }

        if (next.Version <= 0)
        {
            throw new ArgumentException($"a committed registry version is positive, not {next.Version}", nameof(next));
        }

        await _schema.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var json = RegistryStateJson.ToUtf8Bytes(next);
        await using var connection = await PostgresConnection.OpenAsync(_dataSource, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            expectedVersion == 0
                ? "INSERT INTO freshet_registry (project, version, state) VALUES ($1, $2, convert_from($3, 'UTF8')::json) ON CONFLICT (project) DO NOTHING"
                : "UPDATE freshet_registry SET version = $2, state = convert_from($3, 'UTF8')::json, updated_at = now() WHERE project = $1 AND version = $4",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = next.Version });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = json, NpgsqlDbType = NpgsqlDbType.Bytea });
        if (expectedVersion != 0)
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expectedVersion });
        }

        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
        {
            Volatile.Write(ref _cached, next);
            return;
        }

        await using var actual = new NpgsqlCommand("SELECT version FROM freshet_registry WHERE project = $1", connection);
        actual.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Project });
        var found = await actual.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        throw new RegistryConflictException(expectedVersion, found is long v ? v : 0);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
