using System.Net.Sockets;
using Npgsql;

namespace Freshet.Postgres;

/// <summary>
/// The server cannot be reached or refuses us (wrong host or port, bad credentials, no such database). The
/// message is one line naming host, port and database and the cause, fit for a command line.
/// </summary>
public sealed class PostgresUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Opens pooled data sources and turns connection failures into one-line errors.</summary>
public static class PostgresConnection
{
    /// <summary>A pooled data source for <paramref name="connectionString"/>.</summary>
    /// <exception cref="ArgumentException">The connection string does not parse.</exception>
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"the PostgreSQL connection string is not valid: {e.Message}", nameof(connectionString), e);
        }

        // Freshet names itself to the server, so its sessions are recognizable in pg_stat_activity.
        builder.ApplicationName ??= "freshet";
        return new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    /// <summary>"host:port/database", the place named in errors (never the password).</summary>
    public static string Describe(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var b = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        return $"{b.Host ?? "localhost"}:{b.Port}/{b.Database ?? b.Username ?? "(default database)"}";
    }

    /// <summary>Opens a connection, or throws <see cref="PostgresUnavailableException"/> saying where and why not.</summary>
    public static async ValueTask<NpgsqlConnection> OpenAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectFailure(e))
        {
            throw Unavailable(dataSource, e);
        }
    }

    /// <summary>The one-line error for a failure to reach or log in to the server.</summary>
    public static PostgresUnavailableException Unavailable(NpgsqlDataSource dataSource, Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new PostgresUnavailableException($"cannot connect to PostgreSQL at {Describe(dataSource)}: {Cause(e)}", e);
    }

    private static bool IsConnectFailure(Exception e) =>
        e is NpgsqlException or SocketException or TimeoutException or IOException;

    private static string Cause(Exception e)
    {
        // Npgsql wraps socket errors ("Failed to connect to ..."); the innermost message says what went wrong.
        if (e is PostgresException pg)
        {
            return $"{pg.MessageText} ({pg.SqlState})";
        }

        var inner = e;
        while (inner.InnerException is { } next)
        {
            inner = next;
        }

        var text = inner.Message;
        return text.ReplaceLineEndings(" ");
    }
}
