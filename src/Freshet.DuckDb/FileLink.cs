using System.Runtime.InteropServices;

namespace Freshet.DuckDb;

/// <summary>Hard links for the per-query mirrors of cached S3 objects.</summary>
internal static partial class FileLink
{
    private const int NoSuchFile = 2; // ENOENT on Linux and macOS

    /// <summary>
    /// Makes <paramref name="link"/> a hard link to <paramref name="existing"/> (a copy where links are not
    /// available). A hard link keeps the content readable even if the cache replaces the original meanwhile,
    /// which a symbolic link would not. Throws <see cref="FileNotFoundException"/> when the original is gone.
    /// </summary>
    public static void HardLinkOrCopy(string existing, string link)
    {
        if (!OperatingSystem.IsWindows())
        {
            if (Link(existing, link) == 0)
            {
                return;
            }

            if (Marshal.GetLastPInvokeError() == NoSuchFile && !File.Exists(existing))
            {
                throw new FileNotFoundException("the cached object was replaced", existing);
            }
        }

        // Another file system, or no hard links: a copy reads the same.
        File.Copy(existing, link);
    }

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string link);
}
