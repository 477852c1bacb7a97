using Freshet.Protos.Serving;
using Freshet.Protos.V1;
using Grpc.Core;
using static Freshet.Server.Tests.PushServerFixture;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Tests;

public sealed class GrpcPushTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly PushServerFixture _f = new();

    public Task InitializeAsync() => _f.InitializeAsync();

    public Task DisposeAsync() => _f.DisposeAsync();

    /// <summary>Sends every request on one stream (pipelined: acks are read concurrently) and returns the acks.</summary>
    private async Task<List<PushAck>> StreamAsync(IEnumerable<PushRequest> requests)
    {
        using var call = _f.Push.PushStream(deadline: DateTime.UtcNow.Add(Timeout));
        var acks = Task.Run(async () =>
        {
            var list = new List<PushAck>();
            await foreach (var ack in call.ResponseStream.ReadAllAsync())
            {
                list.Add(ack);
            }

            return list;
        });
        foreach (var request in requests)
        {
            await call.RequestStream.WriteAsync(request);
        }

        await call.RequestStream.CompleteAsync();
        return await acks.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_stream_of_many_pushes_feeds_a_plain_and_an_aggregation_view()
    {
        // 40 messages of 25 rows over 5 accounts; event times strictly increase, with microseconds.
        var messages = Enumerable.Range(0, 40).Select(m => Enumerable.Range(0, 25).Select(r =>
        {
            var i = (m * 25) + r;
            return new Tx($"acct{i % 5}", (i % 13) * 0.25, T0.AddMinutes(10).AddMilliseconds(i * 100).AddTicks(1230), Merchant: $"m{i}");
        }).ToList()).ToList();

        var acks = await StreamAsync(messages.Select((rows, m) => Request(rows, requestId: $"batch-{m}")));

        Assert.Equal(40, acks.Count);
        for (var m = 0; m < acks.Count; m++)
        {
            Assert.Null(acks[m].Error);
            Assert.Equal(m, acks[m].Index);
            Assert.Equal($"batch-{m}", acks[m].RequestId);
            Assert.Equal(25, acks[m].Rows);
            Assert.Equal(25, acks[m].EventsAggregated);
            Assert.Equal(0, acks[m].EventsRejected);
            Assert.Equal(["last_tx", "tx_stats"], acks[m].Views);
        }

        // Rows arrive in time order, so every row of a message replaces the stored one (5 accounts, 5 rows each).
        Assert.All(acks, a => Assert.Equal(25, a.OnlineRowsApplied));

        var all = messages.SelectMany(m => m).ToList();
        var accounts = Enumerable.Range(0, 5).Select(a => $"acct{a}").ToArray();
        var response = await _f.ReadAsync([.. accounts, "nobody"]);
        for (var a = 0; a < accounts.Length; a++)
        {
            var mine = all.Where(t => t.Account == accounts[a]).ToList();
            Assert.Equal(mine.Count, response.Results[1].Values[a].Int64Val);
            Assert.Equal(mine.Sum(t => t.Amount), response.Results[2].Values[a].DoubleVal);
            var last = mine.MaxBy(t => t.Ts)!;
            Assert.Equal(last.Amount, response.Results[3].Values[a].DoubleVal);
            Assert.Equal(FieldStatus.Present, response.Results[3].Statuses[a]);

            // The event time kept its microseconds (timestamp_columns are exact).
            Assert.Equal(Values.Micros.From(last.Ts), Values.Micros.From(response.Results[3].EventTimestamps[a].ToDateTimeOffset()));
        }

        Assert.Equal(FieldStatus.NotFound, response.Results[3].Statuses[5]);
    }

    [Fact]
    public async Task Bad_messages_get_an_ack_naming_the_field_and_the_stream_goes_on()
    {
        var good = Request([new Tx("a", 1, T0.AddMinutes(30)), new Tx("a", 2, T0.AddMinutes(31))]);

        var wrongType = Request([new Tx("a", 1, T0.AddMinutes(32)), new Tx("a", 2, T0.AddMinutes(33))]);
        wrongType.Columns["amount"].Val[1] = new ProtoValue { StringVal = "two" };

        var unknownSource = Request([new Tx("a", 1, T0.AddMinutes(34))], source: "nope");

        var missingTimestamp = Request([new Tx("a", 1, T0.AddMinutes(35))]);
        missingTimestamp.TimestampColumns.Clear();

        var badSeconds = Request([new Tx("a", 1, T0.AddMinutes(36))]);
        badSeconds.TimestampColumns.Clear();
        badSeconds.Columns.Add("ts", Column([new ProtoValue { UnixTimestampVal = long.MaxValue }]));

        var mismatched = Request([new Tx("a", 1, T0.AddMinutes(37))]);
        mismatched.Columns["merchant"].Val.Add(new ProtoValue { StringVal = "extra" });

        // Seconds past year 9999 in an int64 column: a wrong type, not an overflow.
        var hugeSeconds = Request([new Tx("a", 1, T0.AddMinutes(38))]);
        hugeSeconds.TimestampColumns.Clear();
        hugeSeconds.Columns.Add("ts", Column([new ProtoValue { Int64Val = long.MaxValue / 10 }]));

        // Too late for every window: refused by the aggregation view only, reported per row.
        var late = Request([new Tx("a", 4, T0.AddMinutes(40)), new Tx("a", 8, T0.AddDays(-3))]);

        var acks = await StreamAsync([good, wrongType, unknownSource, missingTimestamp, badSeconds, mismatched, hugeSeconds, late]);

        Assert.Equal(8, acks.Count);
        Assert.Null(acks[0].Error);
        Assert.Equal(2, acks[0].EventsAggregated);

        Assert.Equal(("wrong_type", "columns.amount[1]"), (acks[1].Error.Code, acks[1].Error.Field));
        Assert.Contains("amount", acks[1].Error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Assert.Single(acks[1].RowErrors).Row);
        Assert.Equal(0, acks[1].EventsAggregated);

        Assert.Equal(("unknown_push_source", "push_source_name"), (acks[2].Error.Code, acks[2].Error.Field));
        Assert.Contains("'nope'", acks[2].Error.Message, StringComparison.Ordinal);
        Assert.Empty(acks[2].RowErrors);

        Assert.Equal(("missing_column", "columns.ts"), (acks[3].Error.Code, acks[3].Error.Field));
        Assert.Equal(("bad_timestamp", "columns.ts[0]"), (acks[4].Error.Code, acks[4].Error.Field));
        Assert.Equal(("mismatched_lengths", "columns"), (acks[5].Error.Code, acks[5].Error.Field));
        Assert.Equal(("wrong_type", "columns.ts[0]"), (acks[6].Error.Code, acks[6].Error.Field));

        Assert.Null(acks[7].Error);
        Assert.Equal((1, 1), (acks[7].EventsAggregated, acks[7].EventsRejected));
        var rejected = Assert.Single(acks[7].RowErrors);
        Assert.Equal((1, "tx_stats", "too_late"), (rejected.Row, rejected.View, rejected.Code));

        // Only the accepted rows count: 2 from the first message, 1 from the last.
        var response = await _f.ReadAsync("a");
        Assert.Equal(3, response.Results[1].Values[0].Int64Val);
        Assert.Equal(7.0, response.Results[2].Values[0].DoubleVal);
    }

    [Fact]
    public async Task Unary_push_applies_rows_and_refuses_bad_input_with_a_status_naming_the_field()
    {
        var ack = await _f.Push.PushAsync(Request([new Tx("u", 1.5, T0.AddMinutes(50))], requestId: "one"), deadline: DateTime.UtcNow.Add(Timeout));
        Assert.Null(ack.Error);
        Assert.Equal(("one", 1, 1), (ack.RequestId, ack.Rows, ack.EventsAggregated));

        var wrongType = Request([new Tx("u", 1, T0.AddMinutes(51))]);
        wrongType.Columns["account_id"].Val[0] = new ProtoValue { Int64Val = 7 };
        var e = await Assert.ThrowsAsync<RpcException>(() => _f.Push.PushAsync(wrongType).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("columns.account_id[0]: ", e.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("wrong_type", e.Trailers.GetValue("freshet-error-code"));

        var badTarget = Request([new Tx("u", 1, T0.AddMinutes(52))]);
        badTarget.To = (Protos.V1.PushTarget)9;
        e = await Assert.ThrowsAsync<RpcException>(() => _f.Push.PushAsync(badTarget).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("to: ", e.Status.Detail, StringComparison.Ordinal);

        // This server has no offline sink.
        var offline = Request([new Tx("u", 1, T0.AddMinutes(52))]);
        offline.To = Protos.V1.PushTarget.Offline;
        e = await Assert.ThrowsAsync<RpcException>(() => _f.Push.PushAsync(offline).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("offline_unavailable", e.Trailers.GetValue("freshet-error-code"));

        e = await Assert.ThrowsAsync<RpcException>(() => _f.Push.PushAsync(Request([new Tx("u", 1, T0.AddMinutes(53))], source: "nope")).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.StartsWith("push_source_name: ", e.Status.Detail, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<RpcException>(() => _f.Push.PushAsync(new PushRequest { PushSourceName = "tx" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("columns: ", e.Status.Detail, StringComparison.Ordinal);

        var response = await _f.ReadAsync("u");
        Assert.Equal(1, response.Results[1].Values[0].Int64Val);
    }

    [Fact]
    public async Task Idempotency_keys_dedupe_across_messages_of_a_stream()
    {
        var first = Request([new Tx("k", 1, T0.AddMinutes(20), "a"), new Tx("k", 2, T0.AddMinutes(21), "b"), new Tx("k", 4, T0.AddMinutes(22), "c")]);

        // A retry of "c" (a client that did not see the ack) and a new "d".
        var second = Request([new Tx("k", 4, T0.AddMinutes(22), "c"), new Tx("k", 8, T0.AddMinutes(23), "d")]);
        var repeat = first.Clone();

        var acks = await StreamAsync([first, second, repeat]);

        Assert.Equal((3, 0, 3), (acks[0].Rows, acks[0].DuplicatesSkipped, acks[0].EventsAggregated));
        Assert.Equal((2, 1, 1), (acks[1].Rows, acks[1].DuplicatesSkipped, acks[1].EventsAggregated));
        Assert.Equal((3, 3, 0), (acks[2].Rows, acks[2].DuplicatesSkipped, acks[2].EventsAggregated));

        var response = await _f.ReadAsync("k");
        Assert.Equal(4, response.Results[1].Values[0].Int64Val);
        Assert.Equal(15.0, response.Results[2].Values[0].DoubleVal);
    }

    [Fact]
    public async Task A_cancelled_stream_keeps_the_acknowledged_pushes()
    {
        using var cancel = new CancellationTokenSource();
        using var call = _f.Push.PushStream(deadline: DateTime.UtcNow.Add(Timeout), cancellationToken: cancel.Token);
        for (var m = 0; m < 3; m++)
        {
            await call.RequestStream.WriteAsync(Request([.. Enumerable.Range(0, 5).Select(r => new Tx("c", 1, T0.AddMinutes(m).AddSeconds(r)))]));
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Null(call.ResponseStream.Current.Error);
        }

        // A fourth message is sent and the call cancelled without waiting for its ack: its events are all in tx_stats or none.
        await call.RequestStream.WriteAsync(Request([.. Enumerable.Range(0, 5).Select(r => new Tx("c", 1, T0.AddMinutes(10).AddSeconds(r)))]));
        await cancel.CancelAsync();
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);

        // The server goes on: a new stream works, and the acknowledged rows are there.
        var acks = await StreamAsync([Request([new Tx("other", 1, T0.AddMinutes(30))])]);
        Assert.Null(Assert.Single(acks).Error);
        var count = (await _f.ReadAsync("c")).Results[1].Values[0].Int64Val;
        Assert.True(count is 15 or 20, $"count {count}: the three acknowledged messages (15 rows), and the fourth whole or not at all");
    }

    [Fact]
    public async Task Http_push_refuses_seconds_past_year_9999_and_reports_duplicates()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_f.Server.HttpPort}") };
        async Task<(int Status, System.Text.Json.Nodes.JsonNode? Body)> PostAsync(string json)
        {
            using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("/push", content);
            return ((int)response.StatusCode, System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync()));
        }

        var (status, body) = await PostAsync("""
            {"push_source_name": "tx", "df": {"account_id": ["h"], "amount": [1], "merchant": ["m"], "ts": [922337203685477580]}}
            """);
        Assert.Equal(400, status);
        Assert.Equal(("wrong_type", "df.ts[0]"), ((string?)body!["code"], (string?)body["field"]));

        const string keyed = """
            {"push_source_name": "tx", "df": {"account_id": ["h", "h"], "amount": [1, 2], "merchant": ["m", "m"],
             "ts": ["2026-01-01T00:30:00Z", "2026-01-01T00:31:00Z"], "idempotency_key": ["x", "x"]}}
            """;
        (status, body) = await PostAsync(keyed);
        Assert.Equal(200, status);
        Assert.Equal(1, (int)body!["duplicates_skipped"]!);
        (status, body) = await PostAsync(keyed);
        Assert.Equal((200, 2), (status, (int)body!["duplicates_skipped"]!));
    }
}
