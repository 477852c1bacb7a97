using System.Globalization;
using System.Text.Json;
using Freshet.Storage;

namespace Freshet.Security;

/// <summary>
/// The embedded key store: one JSON file (<c>DATA/auth/keys.json</c>) holding hashes, never keys. A change takes an
/// exclusive lock file, writes a temporary file, flushes it to disk and renames it over the old one, so readers see
/// the old or the new set, never a mix, and a crash leaves one of them (as <c>FileRegistryStore</c> does).
/// </summary>
public sealed class FileApiKeyStore : IApiKeyStore
{
    /// <summary>The name of the key file.</summary>
    public const string FileName = "keys.json";

    private const string LockName = "keys.lock";

    /// <summary>Opens (or prepares) the keys kept in <paramref name="directory"/>.</summary>
    public FileApiKeyStore(string directory) => Directory = Path.GetFullPath(directory);

    /// <summary>The directory that holds the key file.</summary>
    public string Directory { get; }

    /// <summary>The full path of the key file.</summary>
    public string FilePath => Path.Combine(Directory, FileName);

    /// <inheritdoc />
    public async ValueTask<ApiKeySet> LoadAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(FilePath))
        {
            return ApiKeySet.Empty;
        }

        try
        {
            await using var stream = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, useAsync: true);
            return await JsonSerializer.DeserializeAsync(stream, ApiKeyJsonContext.Default.ApiKeySet, cancellationToken).ConfigureAwait(false)
                ?? throw new ApiKeyStoreException($"the key file {FilePath} is empty");
        }
        catch (JsonException e)
        {
            throw new ApiKeyStoreException($"the key file {FilePath} cannot be read: {e.Message}");
        }
    }

    /// <inheritdoc />
    public ValueTask<string> ChangeTokenAsync(CancellationToken cancellationToken = default)
    {
        // The rename gives the path a new file: its change time (ns on Linux), size and existence change with every commit.
        var info = new FileInfo(FilePath);
        return ValueTask.FromResult(info.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{info.LastWriteTimeUtc.Ticks}:{info.Length}")
            : "none");
    }

    /// <inheritdoc />
    public async ValueTask<ApiKeySet> UpdateAsync(Func<ApiKeySet, ApiKeySet> change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        System.IO.Directory.CreateDirectory(Directory);
        await using var held = await AcquireLockAsync(cancellationToken).ConfigureAwait(false);
        var current = await LoadAsync(cancellationToken).ConfigureAwait(false);
        var next = change(current) with { Version = current.Version + 1 };
        await DurableFiles.ReplaceAsync(FilePath,
            (stream, ct) => JsonSerializer.SerializeAsync(stream, next, ApiKeyJsonContext.Default.ApiKeySet, ct), cancellationToken: cancellationToken).ConfigureAwait(false);
        return next;
    }

    private Task<FileStream> AcquireLockAsync(CancellationToken cancellationToken) =>
        DurableFiles.LockAsync(Path.Combine(Directory, LockName), TimeSpan.FromSeconds(30), cancellationToken);
}
