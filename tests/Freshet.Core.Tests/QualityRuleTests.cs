using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// Data-quality rules (docs/quality.md#rules): read and validated at load, kept through the registry, and checked
/// on push and write-to-online-store, where a violating row goes to the dead-letter store naming the rule.
/// </summary>
public sealed class QualityRuleTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private const string Config = "project: quality\n";

    private const string Repo = """
        entities:
          - name: account
            join_keys:
              - {name: account_id, type: int64}
        sources:
          - name: txns
            type: push
            timestamp_field: ts
            schema:
              - {name: ts, type: timestamp}
              - {name: account_id, type: int64}
              - {name: amount, type: float64, min: 0}
          - name: profiles
            type: push
            timestamp_field: ts
        feature_views:
          - name: profile
            entities: [account]
            source: profiles
            schema:
              - {name: score, type: float64, nullable: false, min: 0, max: 1}
              - {name: tier, type: string, allowed: [gold, silver]}
              - {name: country, type: string, regex: '^[A-Z]{2}$'}
              - {name: nickname, type: string, max_length: 5}
              - {name: level, type: int64, allowed: [1, 2, 3]}
        aggregation_views:
          - name: spend
            entities: [account]
            source: txns
            aggregations:
              - {function: sum, column: amount, window: 1h}

        """;

    private readonly InMemoryRegistryStore _registry = new();
    private readonly InMemoryOnlineStore _online = new();
    private OnlineDeadLetterStore _letters = null!;
    private FeatureStore _store = null!;

    public async Task InitializeAsync()
    {
        var repo = Load(Repo);
        await _registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", T0), 0);
        _letters = await OnlineDeadLetterStore.OpenAsync(_online);
        _store = await FeatureStore.OpenAsync(_registry, _online, repo.Config, ".", new FeatureStoreOptions { DeadLetters = new DeadLetterSink(_letters) });
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private static FeatureRepoDefinition Load(string text) =>
        RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", text)]).GetValueOrThrow();

    private static ColumnTable Rows(params (string Name, FeatureValue[] Values)[] columns) => new(columns.ToDictionary(c => c.Name, c => c.Values));

    private static FeatureValue[] Repeat(FeatureValue v, int n) => [.. Enumerable.Repeat(v, n)];

    private async Task<List<DeadLetter>> Letters()
    {
        var list = new List<DeadLetter>();
        await foreach (var l in _letters.ListAsync())
        {
            list.Add(l);
        }

        return list;
    }

    private async Task<FeatureValue> Served(string feature, long account)
    {
        var response = await _store.GetOnlineFeaturesAsync(new OnlineRequest { Features = [feature], Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [FeatureValue.FromInt64(account)] } });
        return response.Columns[1].Values[0];
    }

    /// <summary>Eight profile rows: row 0 is good, each other breaks one rule.</summary>
    private static ColumnTable Profiles(int good = 0)
    {
        var ts = DateTimeOffset.UtcNow.AddMinutes(-1);
        FeatureValue[] score = [FeatureValue.FromFloat64(0.5), FeatureValue.Null, FeatureValue.FromFloat64(1.5), FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(-0.1)];
        string?[] tier = ["gold", "gold", "gold", "bronze", "silver", null, "gold", "gold"];
        string?[] country = ["DE", "DE", "DE", "DE", "fra", "DE", "DE", "DE"];
        string?[] nickname = ["bob", "bob", "bob", "bob", "bob", "roberta", "bob", "bob"];
        long[] level = [1, 1, 1, 1, 1, 1, 7, 1];
        return Rows(
            ("account_id", [.. Enumerable.Range(good, 8).Select(i => FeatureValue.FromInt64(i))]),
            ("score", score),
            ("tier", [.. tier.Select(FeatureValue.FromString)]),
            ("country", [.. country.Select(FeatureValue.FromString)]),
            ("nickname", [.. nickname.Select(FeatureValue.FromString)]),
            ("level", [.. level.Select(FeatureValue.FromInt64)]),
            ("ts", Repeat(FeatureValue.FromTimestamp(ts), 8)));
    }

    private static readonly string[] ExpectedRules = ["score.nullable", "score.max", "tier.allowed", "country.regex", "nickname.max_length", "level.allowed", "score.min"];

    [Fact]
    public async Task Each_rule_kind_violated_on_push_goes_to_the_dead_letter_store_naming_the_rule_and_good_rows_apply()
    {
        var result = await _store.PushAsync("profiles", Profiles(), PushTarget.Online);

        Assert.Equal(1, result.OnlineRowsApplied);
        Assert.Equal(7, result.EventsRejected);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], result.Rejections.Select(r => r.Row));
        Assert.All(result.Rejections, r => Assert.Equal(("profile", "rule_violation"), (r.View, r.Code)));
        Assert.Equal(ExpectedRules, result.Rejections.Select(r => r.Reason[..r.Reason.IndexOf(':', StringComparison.Ordinal)]));
        Assert.Equal("score.max: 1.5 > 1", result.Rejections[1].Reason);
        Assert.Equal("score.min: -0.1 < 0", result.Rejections[6].Reason);
        Assert.Contains("'bronze' is not one of [gold, silver]", result.Rejections[2].Reason, StringComparison.Ordinal);
        Assert.Contains("'fra' does not match '^[A-Z]{2}$'", result.Rejections[3].Reason, StringComparison.Ordinal);
        Assert.Equal("nickname.max_length: 7 characters > 5", result.Rejections[4].Reason);
        Assert.Contains("7 is not one of [1, 2, 3]", result.Rejections[5].Reason, StringComparison.Ordinal);

        var letters = await Letters();
        Assert.Equal(7, letters.Count);
        Assert.All(letters, l => Assert.Equal(("profiles", "profile", "rule_violation"), (l.Source, l.View, l.Code)));
        Assert.Equal(ExpectedRules.Order(), letters.Select(l => l.Reason[..l.Reason.IndexOf(':', StringComparison.Ordinal)]).Order());
        Assert.Contains(letters, l => System.Text.Encoding.UTF8.GetString(l.Payload).Contains("\"roberta\"", StringComparison.Ordinal));

        Assert.Equal(0.5, (await Served("profile:score", 0)).AsFloat64());
        for (var account = 1; account < 8; account++)
        {
            Assert.True((await Served("profile:score", account)).IsNull, $"account {account} broke a rule but was written");
        }
    }

    [Fact]
    public async Task A_rule_on_a_source_field_guards_the_aggregation_views_that_read_it()
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        var result = await _store.PushAsync("txns", Rows(
            ("account_id", [FeatureValue.FromInt64(1), FeatureValue.FromInt64(1)]),
            ("amount", [FeatureValue.FromFloat64(-5), FeatureValue.FromFloat64(7)]),
            ("ts", Repeat(FeatureValue.FromTimestamp(now), 2))), PushTarget.Online);

        Assert.Equal(1, result.EventsAggregated);
        var rejection = Assert.Single(result.Rejections);
        Assert.Equal(new PushRejection("spend", 0, "rule_violation", "amount.min: -5 < 0"), rejection);
        var letter = Assert.Single(await Letters());
        Assert.Equal(("txns", "spend", "rule_violation", "amount.min: -5 < 0"), (letter.Source, letter.View, letter.Code, letter.Reason));
        Assert.Equal(7.0, (await Served("spend:amount_sum_1h", 1)).AsFloat64());
    }

    [Fact]
    public async Task Write_to_online_store_skips_violating_rows_into_the_dead_letter_store()
    {
        var result = await _store.WriteToOnlineStoreCheckedAsync("profile", Profiles(good: 100));

        Assert.Equal((8, 1), (result.Rows, result.OnlineRowsApplied));
        Assert.Equal(ExpectedRules, result.Rejections.Select(r => r.Reason[..r.Reason.IndexOf(':', StringComparison.Ordinal)]));
        var letters = await Letters();
        Assert.Equal(7, letters.Count);
        Assert.All(letters, l => Assert.Equal(("profiles", "profile"), (l.Source, l.View)));
        Assert.Equal(0.5, (await Served("profile:score", 100)).AsFloat64());
        Assert.True((await Served("profile:score", 107)).IsNull);
    }

    [Fact]
    public async Task A_letter_refused_by_a_rule_applies_on_replay_once_the_rule_is_relaxed()
    {
        await _store.PushAsync("profiles", Profiles(), PushTarget.Online);
        var tooHigh = (await Letters()).Single(l => l.Reason.StartsWith("score.max", StringComparison.Ordinal));

        // Under the same rule the replay is refused again, with the reason.
        Assert.StartsWith("rule_violation: score.max", await PlainViewReplay.ApplyAsync(_store, (FeatureView)_store.Registry.Index.View("profile")!.Value.View, tooHigh.Payload), StringComparison.Ordinal);

        var relaxed = Load(Repo.Replace("min: 0, max: 1}", "min: 0, max: 2}", StringComparison.Ordinal));
        var state = await _registry.LoadAsync();
        var plan = RegistryPlanner.Plan(state, relaxed).GetValueOrThrow();
        await _registry.CommitAsync(RegistryPlanner.Apply(state, plan, "test", T0.AddMinutes(1)), state!.Version);
        await _store.RefreshAsync();

        Assert.Null(await PlainViewReplay.ApplyAsync(_store, (FeatureView)_store.Registry.Index.View("profile")!.Value.View, tooHigh.Payload));
        Assert.Equal(1.5, (await Served("profile:score", 2)).AsFloat64());
    }

    [Fact]
    public void Rules_survive_the_registry_spec_json_and_the_yaml_writer()
    {
        var repo = Load(Repo);
        var view = repo.FeatureViews.Single();
        var back = (FeatureView)SpecJson.FromNode(ObjectKind.FeatureView, SpecJson.ToNode(ObjectKind.FeatureView, view));
        Assert.Equal(view.Schema.Select(f => f.Rules), back.Schema.Select(f => f.Rules));
        Assert.Equal(new FieldRules { Nullable = false, Min = 0, Max = 1 }, back.Schema[0].Rules);
        Assert.Equal(["gold", "silver"], back.Schema[1].Rules!.Allowed!);
        Assert.Equal("^[A-Z]{2}$", back.Schema[2].Rules!.Regex);
        Assert.Equal(5, back.Schema[3].Rules!.MaxLength);

        var written = DefinitionWriter.Write(repo);
        var reloaded = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", written)]).GetValueOrThrow();
        Assert.Equal(view.Schema.Select(f => f.Rules), reloaded.FeatureViews.Single().Schema.Select(f => f.Rules));
        Assert.Equal(repo.Sources[0].Schema.Select(f => f.Rules), reloaded.Sources.Single(s => s.Name == "txns").Schema.Select(f => f.Rules));
    }

    [Fact]
    public void A_field_without_rules_keeps_its_spec_unchanged()
    {
        var node = SpecJson.ToNode(ObjectKind.Source, Load(Repo).Sources[0]);
        var schema = node["schema"]!.AsArray();
        Assert.Null(schema[0]!["rules"]);
        Assert.Equal("""{"min":0}""", SpecJson.ToCanonicalString(schema[2]!["rules"]));
    }

    [Fact]
    public async Task Plan_shows_a_changed_rule_as_an_update_that_is_not_breaking()
    {
        var state = await _registry.LoadAsync();
        var changed = Load(Repo.Replace("{name: amount, type: float64, min: 0}", "{name: amount, type: float64, min: 1}", StringComparison.Ordinal)
            .Replace("allowed: [gold, silver]", "allowed: [gold, silver, bronze]", StringComparison.Ordinal));

        var plan = RegistryPlanner.Plan(state, changed).GetValueOrThrow();

        var source = Assert.Single(plan.Changes, c => c.Name == "txns");
        Assert.Equal(PlanAction.Update, source.Action);
        Assert.Contains("~ column amount rules: min: 0 -> min: 1", source.Details);
        Assert.Empty(source.Breaking);
        var view = Assert.Single(plan.Changes, c => c.Name == "profile");
        Assert.Equal(PlanAction.Update, view.Action);
        Assert.Contains("~ feature tier rules: allowed: [gold, silver] -> allowed: [gold, silver, bronze]", view.Details);
        Assert.Empty(view.Breaking);
        Assert.Null(view.DropsData);
    }

    public static TheoryData<string, string> BadRules => new()
    {
        { "      - {name: score, type: float64, min: @'x'}", "'min' must be a number" },
        { "      - {name: tier, type: string, min: @0}", "min and max apply to int32, int64, float32 and float64 fields, not string" },
        { "      - {name: score, type: float64, min: @5, max: 1}", "min 5 is greater than max 1" },
        { "      - {name: country, type: string, regex: @'^([A-Z]+'}", "regex '^([A-Z]+' does not compile" },
        { "      - {name: country, type: string, regex: @'^(a)\\1$'}", "does not compile" },
        { "      - {name: score, type: float64, regex: @'^x$'}", "regex applies to string fields, not float64" },
        { "      - {name: level, type: int64, allowed: [1, @two]}", "allowed value 'two' is not a int64" },
        { "      - {name: score, type: float64, allowed: @[1.5]}", "allowed applies to string, int32, int64 and bool fields, not float64" },
        { "      - {name: tier, type: string, allowed: @[]}", "allowed needs at least one value" },
        { "      - {name: level, type: int64, max_length: @3}", "max_length applies to string, bytes, list and vector fields, not int64" },
        { "      - {name: tier, type: string, max_length: @-1}", "'max_length' must be a whole number from 0" },
        { "      - {name: tier, type: string, nullable: @maybe}", "'nullable' must be true or false" },
        { "      - {name: tier, type: string, @minimum: 3}", "unknown key 'minimum'" },
    };

    [Theory]
    [MemberData(nameof(BadRules))]
    public void A_bad_rule_is_a_load_error_at_its_place(string field, string expected)
    {
        var text = "entities:\n  - name: account\n    join_keys:\n      - {name: account_id, type: int64}\n"
            + "sources:\n  - name: profiles\n    type: push\n    timestamp_field: ts\n"
            + "feature_views:\n  - name: profile\n    entities: [account]\n    source: profiles\n    schema:\n" + field + "\n";
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var before = text[..at];
        var line = before.Count(c => c == '\n') + 1;
        var column = at - (before.LastIndexOf('\n') + 1) + 1;

        var result = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", before + text[(at + 1)..])]);

        Assert.False(result.IsValid);
        var matching = result.Diagnostics.Where(d => d.Message.Contains(expected, StringComparison.Ordinal)).ToList();
        Assert.True(matching.Count > 0, $"no error says '{expected}'; got:\n{string.Join('\n', result.Diagnostics)}");
        Assert.Contains(matching, d => d.Position == new SourcePosition("repo.yaml", line, column));
    }

    [Fact]
    public void A_request_source_field_takes_no_rules()
    {
        var result = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", "sources:\n  - name: req\n    type: request\n    schema:\n      - {name: amount, type: float64, min: 0}\n")]);

        Assert.Contains(result.Diagnostics, d => d.Message.Contains("a request source's fields take no data-quality rules", StringComparison.Ordinal) && d.Position!.Line == 5);
    }
}
