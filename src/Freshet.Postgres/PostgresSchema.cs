using Npgsql;

namespace Freshet.Postgres;

/// <summary>
/// Creates a store's tables on first use. <c>CREATE TABLE IF NOT EXISTS</c> alone is not safe when two
/// processes start together (both may try to create the table and one fails on the catalog's unique index), so
/// the DDL runs in a transaction holding a transaction-level advisory lock: the second process waits, then
/// finds the tables there.
/// </summary>
internal sealed class PostgresSchema(NpgsqlDataSource dataSource, long lockKey, string ddl)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _ready;

    /// <summary>Creates the tables unless this instance already did; a failure is retried by the next call.</summary>
    public async ValueTask EnsureAsync(CancellationToken cancellationToken)
    {
        if (_ready)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_ready)
            {
                return;
            }

            await using var connection = await PostgresConnection.OpenAsync(dataSource, cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
            {
                lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = lockKey });
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var create = new NpgsqlCommand(ddl, connection, transaction))
            {
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _ready = true;
        }
        finally
        {
            _gate.Release();
        }
    }
}
