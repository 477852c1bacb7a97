using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Amazon;
using Amazon.S3;
using Amazon.S3.Model;
using Freshet.Model;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>
/// Reads <c>s3://</c> sources for DuckDB, which cannot (its httpfs extension is not bundled): lists the objects
/// that match a path or glob, downloads each one once per ETag into a local cache, and lays out a private
/// mirror of the matching objects, under their keys, for one query to read with the same glob.
/// </summary>
/// <remarks>
/// <para>Cache layout under <see cref="Directory"/>: <c>objects/{hash of endpoint, bucket and key}/{hash of ETag}</c>
/// for content, <c>mirrors/{id}/{bucket}/{key}</c> for the hard links one query reads. A download is written to a
/// temporary file and renamed when complete, so a cached file is always whole; a new version of a key replaces
/// the older ones. Mirrors are hard links, so a query keeps reading the version it listed even if another
/// replaces it meanwhile.</para>
/// <para>Thread-safe; one instance per process and cache directory. S3 problems are
/// <see cref="RequestException"/>s naming the view, the source and the path: <c>source_not_found</c> (no bucket,
/// no object, nothing matches the glob), <c>source_access_denied</c>, <c>source_unreachable</c>,
/// <c>offline_read_failed</c>.</para>
/// </remarks>
public sealed partial class S3ObjectCache : IDisposable
{
    // Mirrors left by a process that died are swept when a cache opens; a day is longer than any query.
    private static readonly TimeSpan StaleAge = TimeSpan.FromDays(1);

    private readonly ConcurrentDictionary<string, AmazonS3Client> _clients = new(StringComparer.Ordinal);
    private readonly string _objects;
    private readonly string _mirrors;
    private long _downloads;
    private long _hits;

    /// <summary>A cache in <paramref name="directory"/> (created when first needed) reaching S3 as <paramref name="settings"/> say.</summary>
    public S3ObjectCache(S3Settings settings, string directory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxConcurrentDownloads, 1);
        Settings = settings;
        Directory = Path.GetFullPath(directory);
        _objects = Path.Combine(Directory, "objects");
        _mirrors = Path.Combine(Directory, "mirrors");
        SweepStale(_mirrors);
    }

    /// <summary>The settings.</summary>
    public S3Settings Settings { get; }

    /// <summary>The cache directory.</summary>
    public string Directory { get; }

    /// <summary>Objects downloaded by this instance (a cache hit does not count).</summary>
    public long Downloads => Interlocked.Read(ref _downloads);

    /// <summary>Objects this instance found already cached with the ETag S3 reports.</summary>
    public long CacheHits => Interlocked.Read(ref _hits);

    /// <summary>
    /// Lists the objects <paramref name="source"/>'s <c>s3://</c> path names, makes sure each one is cached, and
    /// returns a private mirror of them that DuckDB reads with the same glob. Throws
    /// <see cref="RequestException"/> for S3 problems and when nothing matches.
    /// </summary>
    internal async Task<SourcePath> MirrorAsync(FileSource source, string view, CancellationToken cancellationToken)
    {
        var endpoint = EndpointFor(source);
        var problem = new S3Problem(view, source.Name, source.Path, endpoint ?? $"AWS ({Settings.Region})");
        if (S3Glob.Parse(source.Path, out var parseError) is not var (bucket, pattern))
        {
            throw problem.Error("offline_read_failed", $"'{source.Path}' is not a usable s3:// path: {parseError}");
        }

        // The client is made inside the guard: resolving credentials can fail there too.
        AmazonS3Client? client = null;
        var objects = await problem.Call(() => ListAsync(client = Client(endpoint), bucket, pattern, problem, cancellationToken), cancellationToken);
        if (objects.Count == 0)
        {
            throw problem.Error("source_not_found", "no object matches");
        }

        var mirror = Path.Combine(_mirrors, Guid.NewGuid().ToString("N"));
        var result = SourcePath.Mirror(mirror, bucket + "/" + pattern);
        try
        {
            var objectDirectory = Path.Combine(_objects, Hash(endpoint ?? "", bucket, "")[..8]);
            await Parallel.ForEachAsync(objects, new ParallelOptions { MaxDegreeOfParallelism = Settings.MaxConcurrentDownloads, CancellationToken = cancellationToken },
                async (o, ct) =>
                {
                    var link = Path.Combine(mirror, bucket, o.Key);
                    System.IO.Directory.CreateDirectory(Path.GetDirectoryName(link)!);
                    var keyDirectory = Path.Combine(objectDirectory, Hash(endpoint ?? "", bucket, o.Key));
                    var file = await problem.Call(() => FetchAsync(client!, bucket, o, keyDirectory, ct), ct);
                    try
                    {
                        FileLink.HardLinkOrCopy(file, link);
                    }
                    catch (FileNotFoundException)
                    {
                        // A newer version replaced this one between the fetch and the link: fetch again.
                        FileLink.HardLinkOrCopy(await problem.Call(() => FetchAsync(client!, bucket, o, keyDirectory, ct), ct), link);
                    }
                });
            return result;
        }
        catch (IOException e)
        {
            result.Dispose();
            throw problem.Error("offline_read_failed", $"caching in '{Directory}' failed: {e.Message}");
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>The endpoint for a source: its own <c>s3_endpoint</c>, else the settings'; null for AWS.</summary>
    private string? EndpointFor(FileSource source) =>
        string.IsNullOrWhiteSpace(source.S3Endpoint) ? Settings.EndpointUrl : source.S3Endpoint.Trim();

    private AmazonS3Client Client(string? endpoint) => _clients.GetOrAdd(endpoint ?? "", _ =>
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = Settings.PathStyle ?? endpoint is not null,
            Timeout = Settings.RequestTimeout,
            MaxErrorRetry = Settings.MaxRetries,
            HttpClientFactory = new S3HttpClientFactory(Settings.ConnectTimeout),
        };
        if (endpoint is null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(Settings.Region);
        }
        else
        {
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = Settings.Region;
        }

        return Settings.Credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(Settings.Credentials, config);
    });

    /// <summary>The objects a key or key glob names; a single key is looked up, a glob lists its literal prefix.</summary>
    private static async Task<List<S3ObjectInfo>> ListAsync(AmazonS3Client client, string bucket, string pattern, S3Problem problem, CancellationToken cancellationToken)
    {
        var found = new List<S3ObjectInfo>();
        if (!S3Glob.HasWildcard(pattern))
        {
            try
            {
                var head = await client.GetObjectMetadataAsync(bucket, pattern, cancellationToken);
                found.Add(new S3ObjectInfo(CheckKey(pattern, problem), Unquote(head.ETag), head.ContentLength));
                return found;
            }
            catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                // HEAD has no body to tell a missing bucket from a missing key: a listing does.
                await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = pattern, MaxKeys = 1 }, cancellationToken);
                throw problem.Error("source_not_found", "no such object");
            }
        }

        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = S3Glob.ListPrefix(pattern) };
        ListObjectsV2Response response;
        do
        {
            response = await client.ListObjectsV2Async(request, cancellationToken);
            foreach (var o in response.S3Objects ?? [])
            {
                // Keys ending in '/' are folder markers, not files.
                if (!o.Key.EndsWith('/') && S3Glob.IsMatch(o.Key, pattern))
                {
                    found.Add(new S3ObjectInfo(CheckKey(o.Key, problem), Unquote(o.ETag), o.Size ?? -1));
                }
            }

            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true && !string.IsNullOrEmpty(response.NextContinuationToken));

        return found;
    }

    /// <summary>The cached file of one object, downloaded unless the cache holds its ETag.</summary>
    private async Task<string> FetchAsync(AmazonS3Client client, string bucket, S3ObjectInfo o, string keyDirectory, CancellationToken cancellationToken)
    {
        var cached = Path.Combine(keyDirectory, Hash(o.ETag));
        if (o.ETag.Length > 0 && File.Exists(cached) && (o.Size < 0 || new FileInfo(cached).Length == o.Size))
        {
            Interlocked.Increment(ref _hits);
            return cached;
        }

        System.IO.Directory.CreateDirectory(keyDirectory);
        var temporary = Path.Combine(keyDirectory, "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            string etag;
            using (var response = await client.GetObjectAsync(bucket, o.Key, cancellationToken))
            {
                // The version downloaded may be newer than the one listed: file it under its own ETag.
                etag = Unquote(response.ETag);
                await using var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                await response.ResponseStream.CopyToAsync(output, cancellationToken);
            }

            var file = Path.Combine(keyDirectory, Hash(etag));
            File.Move(temporary, file, overwrite: true);
            Interlocked.Increment(ref _downloads);
            RemoveOtherVersions(keyDirectory, file);
            return file;
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Older versions of a key, and temporary files of downloads that died; mirrors keep their own links.</summary>
    private static void RemoveOtherVersions(string keyDirectory, string keep)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(keyDirectory))
        {
            var temporary = file.EndsWith(".tmp", StringComparison.Ordinal);
            if (file != keep && (!temporary || File.GetLastWriteTimeUtc(file) < DateTime.UtcNow - StaleAge))
            {
                TryDelete(file);
            }
        }
    }

    private static string CheckKey(string key, S3Problem problem)
    {
        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." || segment.Contains('\0', StringComparison.Ordinal)
                || (OperatingSystem.IsWindows() && segment.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0))
            {
                throw problem.Error("offline_read_failed", $"object key '{key}' cannot be stored as a local file (empty, '.' or '..' segment, or a character the file system refuses)");
            }
        }

        return key;
    }

    private static void SweepStale(string mirrors)
    {
        try
        {
            if (!System.IO.Directory.Exists(mirrors))
            {
                return;
            }

            foreach (var mirror in System.IO.Directory.EnumerateDirectories(mirrors))
            {
                if (System.IO.Directory.GetLastWriteTimeUtc(mirror) < DateTime.UtcNow - StaleAge)
                {
                    System.IO.Directory.Delete(mirror, recursive: true);
                }
            }
        }
        catch (IOException)
        {
            // Sweeping is housekeeping: another process may be at it too.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string Unquote(string? etag) => (etag ?? "").Trim('"');

    private static string Hash(params string[] parts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts))))[..32];

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        _clients.Clear();
    }

    private sealed record S3ObjectInfo(string Key, string ETag, long Size);
}
