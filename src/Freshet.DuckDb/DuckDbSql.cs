using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>
/// SQL text and connections shared by the offline source and sink. Names and paths that reach SQL text are
/// quoted here and nowhere else; values travel as parameters.
/// </summary>
internal static class DuckDbSql
{
    /// <summary>The column the scans add with the file each row came from, for error messages.</summary>
    public const string FileColumn = "__freshet_file";

    /// <summary>A double-quoted identifier; an embedded quote is doubled, so no name can end the identifier.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A single-quoted string literal; an embedded quote is doubled.</summary>
    public static string Literal(string text)
    {
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("a SQL string cannot hold a NUL character", nameof(text));
        }

        return "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    /// <summary>
    /// An in-memory database with the session in UTC (so naive timestamps compare as UTC instants), no
    /// extension downloads (a missing extension fails at once instead of trying the network), and no
    /// insertion order to keep (results are per entity; order is irrelevant and costs memory).
    /// </summary>
    public static DuckDBConnection Open()
    {
        var connection = new DuckDBConnection("Data Source=:memory:");
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SET autoinstall_known_extensions = false; SET TimeZone = 'UTC'; SET preserve_insertion_order = false;";
            command.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The URL scheme of a remote path (<c>s3</c>, <c>https</c>, ...), or null for a local path. DuckDB's httpfs
    /// extension is not bundled and cannot be downloaded, so <c>s3://</c> goes through <see cref="S3ObjectCache"/>
    /// and other schemes are refused.
    /// </summary>
    public static string? RemoteScheme(string path)
    {
        var colon = path.IndexOf("://", StringComparison.Ordinal);
        if (colon <= 1)
        {
            // A drive letter (C:/...) is one character before the colon.
            return null;
        }

        var scheme = path[..colon];
        foreach (var c in scheme)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '+' and not '-' and not '.')
            {
                return null;
            }
        }

        return scheme.ToLowerInvariant();
    }

    /// <summary>The table function that scans a file source; <c>$path</c> is bound to the resolved path.</summary>
    public static string Scan(FileFormat format) => format switch
    {
        FileFormat.Csv => $"read_csv($path, header = true, union_by_name = true, filename = {Literal(FileColumn)})",
        _ => $"read_parquet($path, union_by_name = true, filename = {Literal(FileColumn)})",
    };

    /// <summary>
    /// The path of a local file source resolved against the repository directory (a glob stays a glob). Remote
    /// paths are refused here: <see cref="ResolveAsync"/> also reads <c>s3://</c>.
    /// </summary>
    public static string Resolve(FileSource source, string repoDirectory, string view)
    {
        if (RemoteScheme(source.Path) is { } scheme)
        {
            throw Unsupported(source, view, scheme);
        }

        return Path.GetFullPath(Path.IsPathRooted(source.Path) ? source.Path : Path.Combine(repoDirectory, source.Path));
    }

    /// <summary>
    /// What DuckDB reads for a file source: every query over a source gets its <c>$path</c> here. A local path
    /// or glob is resolved against the repository directory; an <c>s3://</c> path or glob is listed and its
    /// objects cached and mirrored locally by <paramref name="s3"/>, and the result is the same glob over the
    /// mirror. Dispose the result when the query is done (it removes the mirror); pass error messages through
    /// <see cref="SourcePath.Describe(RequestException)"/> so they name the <c>s3://</c> path, not the mirror.
    /// </summary>
    public static async ValueTask<SourcePath> ResolveAsync(FileSource source, string repoDirectory, string view, S3ObjectCache? s3, CancellationToken cancellationToken)
    {
        if (!S3Glob.IsS3(source.Path))
        {
            return SourcePath.Local(Resolve(source, repoDirectory, view));
        }

        if (s3 is null)
        {
            throw Unsupported(source, view, "s3");
        }

        return await s3.MirrorAsync(source, view, cancellationToken);
    }

    private static RequestException Unsupported(FileSource source, string view, string scheme) =>
        new($"{view}.source", "remote_source_unsupported", scheme == "s3"
            ? $"view '{view}' reads '{source.Path}' from s3://, but this reader was set up without an S3 object cache"
            : $"view '{view}' reads '{source.Path}' from {scheme}://, which is not supported; use a local path or glob, or s3://bucket/key");
}
