using Freshet.Definitions;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Server.Tests;

/// <summary>Idempotency keys dedupe within <c>idempotency_window</c> and are collected after it (manual clock), in memory.</summary>
public sealed class IdempotencyWindowTests() : IdempotencyWindowTestsBase(rocksDb: false)
{
    [Fact]
    public void Idempotency_window_is_read_from_freshet_yaml_and_checked_with_its_position()
    {
        Assert.Equal(RepoConfig.DefaultIdempotencyWindow, Load("project: p\n").Value!.Config.IdempotencyWindow);
        Assert.Equal(TimeSpan.FromMinutes(90), Load("project: p\nidempotency_window: 1h30m\n").Value!.Config.IdempotencyWindow);

        var zero = Assert.Single(Load("project: p\nidempotency_window: 0\n").Diagnostics);
        Assert.Equal("freshet.yaml:2:21", zero.Position!.ToString());
        Assert.Contains("'idempotency_window' must be longer than 0", zero.Message, StringComparison.Ordinal);

        var bad = Assert.Single(Load("project: p\nidempotency_window: soon\n").Diagnostics);
        Assert.Equal("freshet.yaml:2:21", bad.Position!.ToString());
        Assert.Contains("idempotency_window", bad.Message, StringComparison.Ordinal);

        // Written back only when it is not the default, and read back the same.
        var config = new RepoConfig("p") { IdempotencyWindow = TimeSpan.FromDays(7) };
        var text = DefinitionWriter.Write(config);
        Assert.Contains("idempotency_window: 7d", text, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromDays(7), Load(text).Value!.Config.IdempotencyWindow);
        Assert.DoesNotContain("idempotency_window", DefinitionWriter.Write(new RepoConfig("p")), StringComparison.Ordinal);

        static ValidationResult<FeatureRepoDefinition> Load(string yaml) => RepoLoader.Load([new RepoFile(RepoConfig.FileName, yaml)]);
    }
}

/// <summary>The same over embedded RocksDB: the sweep relies on the store's byte order of keys.</summary>
public sealed class IdempotencyWindowRocksDbTests() : IdempotencyWindowTestsBase(rocksDb: true);

public abstract class IdempotencyWindowTestsBase(bool rocksDb) : IAsyncLifetime
{
    private static readonly TimeSpan Window = TimeSpan.FromHours(2);
    private readonly PushServerFixture _f = new(Window, rocksDb);

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    /// <summary>Pushes rows for account "w" in process, each with its key, at an event time just before the clock.</summary>
    private async Task<PushResult> PushAsync(params string[] keys)
    {
        var ts = _f.Clock.Now.AddMinutes(-1);
        var rows = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["account_id"] = [.. keys.Select(_ => FeatureValue.FromString("w"))],
            ["amount"] = [.. keys.Select(_ => FeatureValue.FromFloat64(1))],
            ["merchant"] = [.. keys.Select(_ => FeatureValue.FromString("m"))],
            ["ts"] = [.. keys.Select(_ => FeatureValue.FromTimestamp(ts))],
            [FeatureStore.IdempotencyKeyColumn] = [.. keys.Select(FeatureValue.FromString)],
        });
        return await _f.Store.PushAsync("tx", rows, PushTarget.Online);
    }

    [Fact]
    public async Task A_key_dedupes_within_the_window_and_not_after_it()
    {
        Assert.Equal(0, (await PushAsync("k1")).DuplicatesSkipped);

        _f.Clock.Now += Window - TimeSpan.FromSeconds(1);
        Assert.Equal(1, (await PushAsync("k1")).DuplicatesSkipped);

        _f.Clock.Now += TimeSpan.FromSeconds(1);
        var again = await PushAsync("k1");
        Assert.Equal((0, 1), (again.DuplicatesSkipped, again.EventsAggregated));

        // Seen again now: the window starts over from this push.
        _f.Clock.Now += Window - TimeSpan.FromSeconds(1);
        Assert.Equal(1, (await PushAsync("k1")).DuplicatesSkipped);
    }

    [Fact]
    public async Task Expired_keys_are_collected_by_later_pushes()
    {
        await PushAsync([.. Enumerable.Range(0, 50).Select(i => $"old{i}")]);
        Assert.Equal(50, await _f.CountAsync(FeatureStore.IdempotencyNamespace));
        Assert.Equal(50, await _f.CountAsync(FeatureStore.IdempotencyExpiryNamespace));

        _f.Clock.Now += TimeSpan.FromMinutes(30);
        await PushAsync("young");

        _f.Clock.Now += Window;
        await PushAsync("new");

        // The 50 old keys and "young" (now exactly a window old) are gone; only "new" is left.
        Assert.Equal(1, await _f.CountAsync(FeatureStore.IdempotencyNamespace));
        Assert.Equal(1, await _f.CountAsync(FeatureStore.IdempotencyExpiryNamespace));
        Assert.Equal(1, (await PushAsync("new")).DuplicatesSkipped);
    }

    [Fact]
    public async Task A_sweep_is_bounded_oldest_first_and_spares_keys_pushed_again()
    {
        for (var i = 0; i < 10; i++)
        {
            await PushAsync($"k{i}");
            _f.Clock.Now += TimeSpan.FromSeconds(1);
        }

        _f.Clock.Now += Window;

        // "k0" expired and is pushed again: its old entry must not take the new one with it.
        Assert.Equal(0, (await PushAsync("k0")).DuplicatesSkipped);
        Assert.Equal(0, await _f.Store.CollectExpiredIdempotencyKeysAsync(maxKeys: 3));
        Assert.Equal(1, (await PushAsync("k0")).DuplicatesSkipped);

        // The first push of k0 above swept k1..k9 already; push ten more and let them expire to see the bound.
        for (var i = 0; i < 10; i++)
        {
            await PushAsync($"b{i}");
        }

        _f.Clock.Now += Window;
        Assert.Equal(3, await _f.Store.CollectExpiredIdempotencyKeysAsync(maxKeys: 3));
        Assert.Equal(8, await _f.Store.CollectExpiredIdempotencyKeysAsync(maxKeys: 100));
        Assert.Equal(0, await _f.Store.CollectExpiredIdempotencyKeysAsync(maxKeys: 100));
        Assert.Equal(0, await _f.CountAsync(FeatureStore.IdempotencyNamespace));
        Assert.Equal(0, await _f.CountAsync(FeatureStore.IdempotencyExpiryNamespace));
    }
}
