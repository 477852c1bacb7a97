using System.Diagnostics;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Cli.Tests;

/// <summary>
/// `freshet apply` processes killed with SIGKILL at random moments never leave a registry that cannot be
/// read: each time, it holds a complete version, and versions only move forward.
/// </summary>
public sealed class RegistryKillTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public async Task Apply_killed_at_random_moments_leaves_a_readable_registry()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var cli = Path.Combine(AppContext.BaseDirectory, "freshet.dll");
        var store = new FileRegistryStore(Path.GetDirectoryName(_repo.RegistryFile)!);
        var random = new Random(20261128);
        var lastVersion = 1L;
        var killed = 0;
        var completed = 0;
        var ttl = 0;

        for (var i = 0; i < 30; i++)
        {
            // Each round asks for a different ttl, so every apply that completes writes a new version.
            var next = ttl + 1;
            var text = _repo.Read("driver_repo.yaml");
            var current = ttl == 0 ? "ttl: 0" : $"ttl: {ttl}d";
            var marker = "    " + current + "\n    schema:\n      - {name: conv_rate, type: float32, description";
            Assert.Contains(marker, text, StringComparison.Ordinal);
            _repo.Write("driver_repo.yaml", text.Replace(marker, marker.Replace(current, $"ttl: {next}d", StringComparison.Ordinal), StringComparison.Ordinal));
            ttl = next;

            var start = new ProcessStartInfo("dotnet", ["exec", cli, "apply", "--yes", "--repo", _repo.Dir])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var delay = random.Next(20, 400);
            if (!process.WaitForExit(delay))
            {
                process.Kill(entireProcessTree: true);
                killed++;
            }
            else
            {
                Assert.Equal(0, process.ExitCode);
                completed++;
            }

            await process.WaitForExitAsync();
            var state = await store.LoadAsync();
            Assert.NotNull(state);
            Assert.True(state.Version >= lastVersion, $"the registry went back from {lastVersion} to {state.Version}");
            var view = (FeatureView)state.Find(ObjectKind.FeatureView, "driver_hourly_stats")!.Current()!;

            // The version on disk is whole: the view's ttl is one that some apply asked for, at most the latest.
            Assert.InRange(view.Ttl.TotalDays, 0, ttl);
            lastVersion = state.Version;
        }

        Assert.True(killed >= 10, $"only {killed} processes were killed before finishing; the test did not test crashes");
        Assert.True(completed + killed == 30);

        // After all that, a normal apply still works and lands the newest definition.
        var final = await _repo.Freshet("apply", "--yes");
        Assert.True(final.ExitCode == 0, final.ToString());
        var loaded = (await store.LoadAsync())!;
        Assert.Equal(TimeSpan.FromDays(ttl), ((FeatureView)loaded.Find(ObjectKind.FeatureView, "driver_hourly_stats")!.Current()!).Ttl);
    }
}
