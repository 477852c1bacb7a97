using System.Diagnostics;
using System.Globalization;
using System.Text;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Freshet.Nats.Tests;

/// <summary>
/// Data-quality rules on a stream (docs/quality.md#rules): events read from a real JetStream by the stream processor
/// that break a rule are dead letters naming the view and rule, with their stream position; the others apply.
/// </summary>
public sealed class NatsRuleViolationTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private readonly NatsServer? _server = NatsServer.Executable is null ? null : new NatsServer();

    public void Dispose() => _server?.Dispose();

    [NatsFact]
    public async Task Stream_events_breaking_a_rule_land_in_the_dead_letter_store_with_the_rule_and_position()
    {
        var int64 = FeatureType.Of(ScalarKind.Int64);
        var source = new NatsSource("txns", _server!.Url, "txns.rules")
        {
            TimestampField = "ts",
            Schema =
            [
                new Field("ts", FeatureType.Of(ScalarKind.Timestamp)),
                new Field("account_id", int64),
                new Field("amount", FeatureType.Of(ScalarKind.Float64)) { Rules = new FieldRules { Min = 0 } },
                new Field("country", FeatureType.Of(ScalarKind.String)),
            ],
        };
        var repo = new RepoBuilder("stream_rules")
            .Add(new Entity("account", [new JoinKey("account_id", int64)]))
            .Add(source)
            .Add(new FeatureView("last_txn", ["account"], "txns", [new Field("country", FeatureType.Of(ScalarKind.String)) { Rules = new FieldRules { Regex = "^[A-Z]{2}$" } }]))
            .Add(new AggregationView("spend", ["account"], "txns", [new Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromHours(1))]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", DateTimeOffset.UtcNow), 0);
        var online = new InMemoryOnlineStore();
        var letters = await OnlineDeadLetterStore.OpenAsync(online);
        var sink = new DeadLetterSink(letters);
        await using var store = await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { DeadLetters = sink });
        var processor = new StreamProcessor(store, "txns", sink);
        await using var events = new NatsEventSource(source, processor.ResumeFrom);

        await StartedAsync(events, "txns.rules");
        var ts = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await PublishAsync("txns.rules",
            $$"""{"ts":{{ts}},"account_id":1,"amount":5,"country":"DE"}""",
            $$"""{"ts":{{ts}},"account_id":1,"amount":-5,"country":"DE"}""",
            $$"""{"ts":{{ts}},"account_id":2,"amount":3,"country":"de"}""");

        var processed = 0;
        var clock = Stopwatch.StartNew();
        while (processed < 3)
        {
            Assert.True(clock.Elapsed < Bound, $"timed out with {processed} of 3 events processed (last error: {events.LastError?.Message})");
            var batch = await events.PollAsync(10, TimeSpan.FromMilliseconds(500), CancellationToken.None);
            if (batch.Count > 0)
            {
                var result = await processor.ProcessAsync(batch);
                await events.AcknowledgeAsync(result.NextOffsets, CancellationToken.None);
                processed += batch.Count;
            }
        }

        var stored = new List<DeadLetter>();
        await foreach (var l in letters.ListAsync())
        {
            stored.Add(l);
        }

        Assert.Equal(2, stored.Count);
        var negative = Assert.Single(stored, l => l.View == "spend");
        Assert.Equal(("txns", "rule_violation", "amount.min: -5 < 0", 2L), (negative.Source, negative.Code, negative.Reason, negative.Offset));
        Assert.Contains("\"amount\":-5", Encoding.UTF8.GetString(negative.Payload), StringComparison.Ordinal);
        var lower = Assert.Single(stored, l => l.View == "last_txn");
        Assert.Equal(("rule_violation", 3L), (lower.Code, lower.Offset));
        Assert.Equal("country.regex: 'de' does not match '^[A-Z]{2}$'", lower.Reason);

        // The good events applied: the -5 is not in account 1's sum, and account 2's lower-case country was not written.
        Assert.Equal(5.0, (await ServedAsync(store, "spend:amount_sum_1h", 1)).AsFloat64());
        Assert.Equal(3.0, (await ServedAsync(store, "spend:amount_sum_1h", 2)).AsFloat64());
        Assert.Equal("DE", (await ServedAsync(store, "last_txn:country", 1)).AsString());
        Assert.True((await ServedAsync(store, "last_txn:country", 2)).IsNull);
    }

    private static async Task<FeatureValue> ServedAsync(FeatureStore store, string feature, long account)
    {
        var response = await store.GetOnlineFeaturesAsync(new OnlineRequest { Features = [feature], Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [FeatureValue.FromInt64(account)] } });
        return response.Columns[1].Values[0];
    }

    private async Task PublishAsync(string subject, params string[] messages)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = _server!.Url });
        var js = new NatsJSContext(connection);
        foreach (var m in messages)
        {
            (await js.PublishAsync(subject, Encoding.UTF8.GetBytes(m))).EnsureSuccess();
        }
    }

    /// <summary>Polls the empty source until it has created its stream, so that publishing finds it.</summary>
    private async Task StartedAsync(NatsEventSource source, string subject)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = _server!.Url });
        var js = new NatsJSContext(connection);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.Empty(await source.PollAsync(1, TimeSpan.FromMilliseconds(200), CancellationToken.None));
            await foreach (var _ in js.ListStreamNamesAsync(subject: subject))
            {
                return;
            }

            Assert.True(clock.Elapsed < Bound, $"the source created no stream for {subject} (last error: {source.LastError?.Message})");
        }
    }
}
