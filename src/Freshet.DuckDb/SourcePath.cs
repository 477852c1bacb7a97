using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>
/// What DuckDB reads for a file source: a local path or glob, or, for <c>s3://</c>, the same glob over a
/// private local mirror of the matching objects (removed on <see cref="Dispose"/>). Messages that mention the
/// mirror are turned back into <c>s3://</c> paths by <see cref="Describe(string)"/>.
/// </summary>
internal sealed class SourcePath : IDisposable
{
    private readonly string? _mirror;
    private readonly string? _mirrorPrefix;

    private SourcePath(string path, string? mirror)
    {
        Path = path;
        _mirror = mirror;
        _mirrorPrefix = mirror is null ? null : mirror + "/";
    }

    /// <summary>The path or glob bound to <c>$path</c>.</summary>
    public string Path { get; }

    /// <summary>Whether the path is a mirror of S3 objects.</summary>
    public bool IsMirror => _mirror is not null;

    /// <summary>A local path or glob, read in place.</summary>
    public static SourcePath Local(string path) => new(path, null);

    /// <summary>
    /// The glob <paramref name="bucketAndPattern"/> (<c>bucket/key-pattern</c>) under a mirror directory whose
    /// first level is the bucket; the directory is deleted with this object.
    /// </summary>
    public static SourcePath Mirror(string mirror, string bucketAndPattern) => new(mirror + "/" + bucketAndPattern, mirror);

    /// <summary>The text with mirror paths written as the <c>s3://</c> paths they stand for.</summary>
    public string Describe(string text) => _mirrorPrefix is null ? text : text.Replace(_mirrorPrefix, S3Glob.Scheme, StringComparison.Ordinal);

    /// <summary>The same error with mirror paths written as <c>s3://</c> paths.</summary>
    public RequestException Describe(RequestException e) =>
        _mirrorPrefix is null || !e.Message.Contains(_mirrorPrefix, StringComparison.Ordinal) ? e : new RequestException(e.Field, e.Code, Describe(e.Message), e.Status);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_mirror is null)
        {
            return;
        }

        try
        {
            Directory.Delete(_mirror, recursive: true);
        }
        catch (IOException)
        {
            // Left for the cache's sweep of old mirrors.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
