using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Conformance.Tests;

/// <summary>A commit interrupted at any point leaves the previous version readable.</summary>
public sealed class FileRegistryCrashTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-crash-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private async Task<RegistryState> CommittedV1()
    {
        var v1 = RegistryStoreConformance.Applied(null, RegistryStoreConformance.Repo());
        await new FileRegistryStore(_dir).CommitAsync(v1, 0);
        return v1;
    }

    [Fact]
    public async Task A_crash_after_writing_and_before_replacing_leaves_the_old_version()
    {
        var v1 = await CommittedV1();
        var v2 = RegistryStoreConformance.Applied(v1, RegistryStoreConformance.Repo(ttl: "2d"));
        var store = new FileRegistryStore(_dir) { BeforeReplace = _ => throw new IOException("simulated crash") };

        await Assert.ThrowsAsync<IOException>(async () => await store.CommitAsync(v2, 1));

        var loaded = await new FileRegistryStore(_dir).LoadAsync();
        Assert.Equal(1, loaded!.Version);
        Assert.Equal(TimeSpan.FromDays(1), ((FeatureView)loaded.Find(ObjectKind.FeatureView, "driver_hourly_stats")!.Current()!).Ttl);
    }

    [Fact]
    public async Task A_half_written_temporary_file_left_by_a_killed_process_is_ignored_and_cleaned_up()
    {
        var v1 = await CommittedV1();
        var full = await File.ReadAllBytesAsync(Path.Combine(_dir, FileRegistryStore.FileName));
        var stale = Path.Combine(_dir, FileRegistryStore.FileName + ".tmp-deadbeef");
        await File.WriteAllBytesAsync(stale, full[..(full.Length / 2)]);

        var loaded = await new FileRegistryStore(_dir).LoadAsync();
        Assert.Equal(1, loaded!.Version);

        var v2 = RegistryStoreConformance.Applied(v1, RegistryStoreConformance.Repo(ttl: "2d"));
        await new FileRegistryStore(_dir).CommitAsync(v2, 1);
        Assert.False(File.Exists(stale));
        Assert.Equal(2, (await new FileRegistryStore(_dir).LoadAsync())!.Version);
    }

    [Fact]
    public async Task A_damaged_registry_file_gives_a_clear_error_not_an_empty_registry()
    {
        await CommittedV1();
        var path = Path.Combine(_dir, FileRegistryStore.FileName);
        var bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length / 3)]);

        var e = await Assert.ThrowsAsync<RegistryCorruptException>(async () => await new FileRegistryStore(_dir).LoadAsync());

        Assert.Contains("cannot be read", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_interruption_point_of_the_write_leaves_a_readable_version()
    {
        // Writes fail after N bytes for a range of N: whatever the point, the store reads v1 afterwards.
        var v1 = await CommittedV1();
        var v2 = RegistryStoreConformance.Applied(v1, RegistryStoreConformance.Repo(ttl: "2d"));
        var size = new FileInfo(Path.Combine(_dir, FileRegistryStore.FileName)).Length;
        for (var cut = 0L; cut < size; cut += Math.Max(1, size / 25))
        {
            var at = cut;
            var store = new FileRegistryStore(_dir)
            {
                BeforeReplace = temp =>
                {
                    // Leave the temporary file as a crash at byte `at` would, then die before the rename.
                    using (var f = new FileStream(temp, FileMode.Open, FileAccess.Write))
                    {
                        f.SetLength(Math.Min(at, f.Length));
                    }

                    throw new IOException($"crash at byte {at}");
                },
            };

            await Assert.ThrowsAsync<IOException>(async () => await store.CommitAsync(v2, 1));
            Assert.Equal(1, (await new FileRegistryStore(_dir).LoadAsync())!.Version);
        }
    }
}
