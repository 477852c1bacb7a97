namespace Freshet.Storage;

/// <summary>
/// The two file operations the embedded stores (registry, API keys, audit trail) build on: an exclusive lock between
/// processes, and replacing a file so that readers and crashes see the old or the new content, never a mix.
/// </summary>
internal static class DurableFiles
{
    /// <summary>
    /// Takes the exclusive lock file <paramref name="path"/>, waiting up to <paramref name="timeout"/> for another
    /// holder. <c>FileShare.None</c> is an exclusive lock between processes (flock on Linux); the OS drops it when a
    /// process dies, so a crash never leaves a store locked. Dispose the stream to release it.
    /// </summary>
    public static async Task<FileStream> LockAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var wait = 1;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                wait = Math.Min(wait * 2, 25);
            }
        }
    }

    /// <summary>
    /// Replaces <paramref name="path"/> with what <paramref name="write"/> writes: to a new temporary file next to it
    /// (<paramref name="path"/> + <c>.tmp-GUID</c>), flushed to disk, then renamed over it (rename(2) is atomic).
    /// Temporary files left by a process killed before its rename are removed first; call this under the lock.
    /// <paramref name="beforeReplace"/> sees the temporary file just before the rename (fault-injection tests).
    /// </summary>
    public static async Task ReplaceAsync(string path, Func<Stream, CancellationToken, Task> write, Action<string>? beforeReplace = null, CancellationToken cancellationToken = default)
    {
        var directory = Path.GetDirectoryName(path)!;
        var prefix = Path.GetFileName(path) + ".tmp-";
        foreach (var stale in Directory.EnumerateFiles(directory, prefix + "*"))
        {
            TryDelete(stale);
        }

        var temp = Path.Combine(directory, prefix + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 65536, useAsync: true))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            beforeReplace?.Invoke(temp);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
