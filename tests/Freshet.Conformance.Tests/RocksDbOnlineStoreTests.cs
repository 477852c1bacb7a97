using Freshet.Online;
using Freshet.RocksDb;

namespace Freshet.Conformance.Tests;

/// <summary>What the RocksDB store promises beyond the contract: its rows outlive the process that wrote them.</summary>
public sealed class RocksDbOnlineStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-rocks-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Rows_written_before_closing_read_back_after_reopening_the_directory()
    {
        var rows = Enumerable.Range(0, 1_000).Select(id => new OnlineWrite(id % 3 == 0 ? "a" : "ab", OnlineStoreConformance.Key(id), OnlineStoreConformance.Row(100 + id, 0, id))).ToList();
        await using (var store = RocksDbOnlineStore.Open(_dir))
        {
            Assert.Equal(1_000, await store.WriteAsync(rows));
        }

        await using var reopened = RocksDbOnlineStore.Open(_dir);
        var read = new byte[]?[rows.Count];
        await reopened.ReadAsync([.. rows.Select(r => new OnlineKey(r.View, r.EntityKey))], read);

        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(rows[i].Row, read[i]);
        }

        // Newest-wins compares against what the earlier process stored.
        Assert.Equal(0, await reopened.WriteAsync([new OnlineWrite("a", OnlineStoreConformance.Key(0), OnlineStoreConformance.Row(99, 0, -1))]));
        Assert.Equal(334, await reopened.DeleteViewAsync("a"));
        Assert.Equal(666, await reopened.DeleteViewAsync("ab"));
    }

    [Fact]
    public async Task A_second_open_of_a_directory_in_use_fails_instead_of_sharing_it()
    {
        await using var store = RocksDbOnlineStore.Open(_dir);

        Assert.ThrowsAny<Exception>(() => RocksDbOnlineStore.Open(_dir));
    }

    [Fact]
    public async Task A_closed_store_refuses_further_calls()
    {
        var store = RocksDbOnlineStore.Open(_dir);
        await store.DisposeAsync();
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.ReadAsync([new OnlineKey("a", [1])], new byte[]?[1]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.WriteAsync([new OnlineWrite("a", [1], OnlineStoreConformance.Row(1, 1, 1))]));
    }

    [Fact]
    public async Task A_write_that_is_not_an_encoded_row_is_refused_and_nothing_of_its_call_is_stored()
    {
        await using var store = RocksDbOnlineStore.Open(_dir);

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteAsync(
            [new OnlineWrite("a", [1], OnlineStoreConformance.Row(1, 1, 1)), new OnlineWrite("a", [2], [1, 2, 3])]));

        var read = new byte[]?[1];
        await store.ReadAsync([new OnlineKey("a", [1])], read);
        Assert.Null(read[0]);
    }
}
