using System.Text.Json;
using Freshet.Storage;

namespace Freshet.Registry;

/// <summary>
/// The embedded registry: one JSON file in the data directory (<c>registry/registry.json</c>), replaced
/// atomically. A commit writes a temporary file, flushes it to disk and renames it over the old one, so a
/// crash at any moment leaves either the old or the new version readable, never a mix. Commits from
/// several processes are serialized by an exclusive lock file and checked against the expected version.
/// </summary>
public sealed class FileRegistryStore : IRegistryStore
{
    /// <summary>The name of the registry file.</summary>
    public const string FileName = "registry.json";

    private const string LockName = "registry.lock";

    /// <summary>Opens (or prepares) the registry kept in <paramref name="directory"/>.</summary>
    public FileRegistryStore(string directory) => Directory = Path.GetFullPath(directory);

    /// <summary>The directory that holds the registry file.</summary>
    public string Directory { get; }

    /// <summary>The full path of the registry file.</summary>
    public string FilePath => Path.Combine(Directory, FileName);

    /// <summary>Called after the new version is on disk and before it replaces the old; tests use it to crash there.</summary>
    internal Action<string>? BeforeReplace { get; set; }

    /// <inheritdoc />
    public async ValueTask<RegistryState?> LoadAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }

        try
        {
            await using var stream = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, useAsync: true);
            var state = await JsonSerializer.DeserializeAsync(stream, SpecJsonContext.Default.RegistryState, cancellationToken).ConfigureAwait(false);
            return state ?? throw new RegistryCorruptException($"the registry file {FilePath} is empty");
        }
        catch (JsonException e)
        {
            throw new RegistryCorruptException($"the registry file {FilePath} cannot be read: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public async ValueTask CommitAsync(RegistryState next, long expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        System.IO.Directory.CreateDirectory(Directory);
        await using var held = await AcquireLockAsync(cancellationToken).ConfigureAwait(false);
        var actual = (await LoadAsync(cancellationToken).ConfigureAwait(false))?.Version ?? 0;
        if (actual != expectedVersion)
        {
            throw new RegistryConflictException(expectedVersion, actual);
        }

        // A crash before the rename leaves the old file untouched; after it, the new one.
        await DurableFiles.ReplaceAsync(FilePath,
            (stream, ct) => JsonSerializer.SerializeAsync(stream, next, SpecJsonContext.Default.RegistryState, ct), BeforeReplace, cancellationToken).ConfigureAwait(false);
    }

    private Task<FileStream> AcquireLockAsync(CancellationToken cancellationToken) =>
        DurableFiles.LockAsync(Path.Combine(Directory, LockName), TimeSpan.FromSeconds(30), cancellationToken);
}
