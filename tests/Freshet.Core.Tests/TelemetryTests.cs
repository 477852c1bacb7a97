using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Observability;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// Spans and counters of serving, push, store calls and stream ingestion (docs/observability.md), seen through an
/// <see cref="ActivityListener"/> and a <see cref="MeterListener"/>. Each test runs under a root activity of its own
/// and a project of its own, so what other tests running at the same time record is told apart.
/// </summary>
public sealed class TelemetryTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly ActivitySource TestSource = new("Freshet.Core.Tests");

    [Fact]
    public async Task A_read_a_push_and_a_stream_batch_each_have_a_span_with_their_store_calls_nested()
    {
        var spans = new List<Activity>();
        using var listener = Listen(spans);
        var clock = new ManualClock(Now);
        await using var store = await OpenAsync("spans", clock, null);
        using var root = TestSource.StartActivity("test")!;

        await store.PushAsync("tx", Rows(("a", 1, Now.AddMinutes(-1))), PushTarget.Online);
        await store.GetOnlineFeaturesAsync(Request("a"));
        await new StreamProcessor(store, "tx", new NoLetters()).ProcessAsync([Event(0, "a", 2, Now.AddMinutes(-2))]);

        List<Activity> mine;
        lock (spans)
        {
            mine = [.. spans.Where(a => a.TraceId == root.TraceId)];
        }

        var read = Assert.Single(mine, a => a.OperationName == "freshet.get_online_features");
        var push = Assert.Single(mine, a => a.OperationName == "freshet.push");
        var batch = Assert.Single(mine, a => a.OperationName == "freshet.ingest.batch");
        Assert.All(new[] { read, push, batch }, a => Assert.Equal(root.SpanId, a.ParentSpanId));
        Assert.Contains(mine, a => a.OperationName == "freshet.online_store.read" && a.ParentSpanId == read.SpanId && (string?)a.GetTagItem("freshet.tier") == "l2");
        Assert.Contains(mine, a => a.OperationName == "freshet.online_store.put" && a.ParentSpanId == push.SpanId);
        Assert.Contains(mine, a => a.OperationName == "freshet.online_store.put" && a.ParentSpanId == batch.SpanId);
        Assert.Equal("tx", batch.GetTagItem("freshet.source"));
        Assert.Equal(1, read.GetTagItem("freshet.entity_rows"));
    }

    [Fact]
    public async Task Stream_and_push_count_applied_rejected_and_dead_lettered_events_per_view()
    {
        const string view = "stats_counted";
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FreshetTelemetry.Name && instrument.Name is "freshet.ingest.events" or "freshet.ingest.dead_letters")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var t = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                t[tag.Key] = tag.Value as string;
            }

            if (t.GetValueOrDefault("view") is view)
            {
                var key = $"{instrument.Name}|{t.GetValueOrDefault("view")}|{t["path"]}|{t.GetValueOrDefault("outcome") ?? t.GetValueOrDefault("reason")}";
                lock (counts)
                {
                    counts[key] = counts.GetValueOrDefault(key) + value;
                }
            }
        });
        meters.Start();

        var clock = new ManualClock(Now);
        var online = new InMemoryOnlineStore();
        var letters = new DeadLetterSink(await OnlineDeadLetterStore.OpenAsync(online, clock), clock);
        await using var store = await OpenAsync("counted", clock, letters, online, view);
        var processor = new StreamProcessor(store, "tx", letters);

        // Stream: three good events, one too late, one that does not decode (a dead letter of no view).
        await processor.ProcessAsync(
        [
            Event(0, "a", 1, Now.AddMinutes(-1)),
            Event(1, "b", 2, Now.AddMinutes(-2)),
            Event(2, "a", 3, Now.AddMinutes(-3)),
            Event(3, "a", 4, Now.AddDays(-5)),
            new SourceEvent("tx/0", 4, null, Encoding.UTF8.GetBytes("not json"), null),
        ]);

        // Push: one good row, one too late.
        await store.PushAsync("tx", Rows(("a", 1, Now.AddMinutes(-1)), ("b", 1, Now.AddDays(-6))), PushTarget.Online);

        lock (counts)
        {
            Assert.Equal(3, counts.GetValueOrDefault($"freshet.ingest.events|{view}|stream|applied"));
            Assert.Equal(1, counts.GetValueOrDefault($"freshet.ingest.events|{view}|stream|rejected"));
            Assert.Equal(1, counts.GetValueOrDefault($"freshet.ingest.dead_letters|{view}|stream|too_late"));
            Assert.Equal(1, counts.GetValueOrDefault($"freshet.ingest.events|{view}|push|applied"));
            Assert.Equal(1, counts.GetValueOrDefault($"freshet.ingest.events|{view}|push|rejected"));
            Assert.Equal(1, counts.GetValueOrDefault($"freshet.ingest.dead_letters|{view}|push|too_late"));
        }
    }

    private static ActivityListener Listen(List<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is FreshetTelemetry.Name or "Freshet.Core.Tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (spans)
                {
                    spans.Add(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static OnlineRequest Request(string account) => new()
    {
        Features = ["stats:n_1d"],
        Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [FeatureValue.FromString(account)] },
    };

    private static ColumnTable Rows(params (string Account, double Amount, DateTimeOffset At)[] rows) => new(new Dictionary<string, FeatureValue[]>
    {
        ["account_id"] = [.. rows.Select(r => FeatureValue.FromString(r.Account))],
        ["amount"] = [.. rows.Select(r => FeatureValue.FromFloat64(r.Amount))],
        ["ts"] = [.. rows.Select(r => FeatureValue.FromTimestamp(r.At))],
    });

    private static SourceEvent Event(long offset, string account, double amount, DateTimeOffset at) =>
        new("tx/0", offset, null, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$"""{"ts":"{{Micros.ToRfc3339(Micros.From(at))}}","account_id":"{{account}}","amount":{{amount}}}""")), null);

    private static async Task<FeatureStore> OpenAsync(string project, TimeProvider clock, IDeadLetterSink? letters, IOnlineStore? online = null, string view = "stats")
    {
        var repo = new RepoBuilder(project)
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new KafkaSource("tx", "127.0.0.1:9", "tx")
            {
                TimestampField = "ts",
                Schema =
                [
                    new("account_id", FeatureType.Of(ScalarKind.String)),
                    new("amount", FeatureType.Of(ScalarKind.Float64)),
                    new("ts", FeatureType.Of(ScalarKind.Timestamp)),
                ],
            })
            .Add(new AggregationView(view, ["account"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromDays(1)) { Name = "n_1d" },
            ]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", Now), 0);
        var store = InstrumentedOnlineStore.Wrap(online ?? new InMemoryOnlineStore(), "l2");
        return await FeatureStore.OpenAsync(registry, store, repo.Config, ".", new FeatureStoreOptions { Clock = clock, DeadLetters = letters });
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class NoLetters : IDeadLetterSink
    {
        public IReadOnlyList<OnlinePut> Prepare(IReadOnlyList<RejectedEvent> letters) =>
            throw new InvalidOperationException($"no event should be rejected: {letters[0].Code} {letters[0].Reason}");
    }
}
