using System.Text;
using Freshet.Aggregates;
using Freshet.Online;

namespace Freshet.Core.Tests;

/// <summary>Deleting a view's online data takes its freshness row and lambda cut-over too, and nothing of other views.</summary>
public sealed class ViewDataDeletionTests
{
    [Fact]
    public async Task Deleting_a_view_removes_its_rows_freshness_and_cut_over_and_keeps_other_views()
    {
        await using var store = new InMemoryOnlineStore();
        byte[] key = [1, 2, 3];
        foreach (var view in new[] { "gone", "kept" })
        {
            await store.PutAsync(
            [
                new OnlinePut(view, key, [9]),
                new OnlinePut(AggregationEngine.FreshnessNamespace, Encoding.UTF8.GetBytes(view), new byte[16]),
                new OnlinePut(AggregationEngine.CutOverNamespace, AggregationEngine.CutOverKey(view), AggregationEngine.EncodeCutOver(1_000_000)),
            ]);
        }

        Assert.Equal(1, await AggregationEngine.DeleteViewDataAsync(store, "gone"));

        var rows = new byte[]?[6];
        await store.ReadAsync(
        [
            new OnlineKey("gone", key), new OnlineKey(AggregationEngine.FreshnessNamespace, Encoding.UTF8.GetBytes("gone")), new OnlineKey(AggregationEngine.CutOverNamespace, AggregationEngine.CutOverKey("gone")),
            new OnlineKey("kept", key), new OnlineKey(AggregationEngine.FreshnessNamespace, Encoding.UTF8.GetBytes("kept")), new OnlineKey(AggregationEngine.CutOverNamespace, AggregationEngine.CutOverKey("kept")),
        ], rows);
        Assert.All(rows[..3], r => Assert.Null(r));
        Assert.All(rows[3..], r => Assert.NotNull(r));
    }
}
