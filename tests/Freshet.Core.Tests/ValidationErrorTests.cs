using Freshet.Definitions;

namespace Freshet.Core.Tests;

/// <summary>
/// Every kind of validation error, with its message and where it points. Each case is a small repo in which
/// the character '@' marks the exact place the error must be reported; the marker is removed before loading.
/// </summary>
public sealed class ValidationErrorTests
{
    private const string Config = "project: checks\n";

    private const string Entities = """
        entities:
          - name: user
            join_keys:
              - {name: user_id, type: int64}

        """;

    private const string Sources = """
        sources:
          - name: events
            type: file
            path: data/events.parquet
            timestamp_field: ts
            schema:
              - {name: ts, type: timestamp}
              - {name: user_id, type: int64}
              - {name: amount, type: float64}
              - {name: merchant, type: string}
          - name: req
            type: request
            schema:
              - {name: bonus, type: float64}

        """;

    public static TheoryData<string, string, string> Cases => new()
    {
        // YAML form
        { "bad YAML", Entities + "feature_views:\n  - name: v\n    entities: [user\n@", "YAML" },
        { "unknown top-level key", Entities + "@feature_vews: []\n", "unknown section 'feature_vews'; did you mean 'feature_views'?" },
        { "unknown key in an entity", "entities:\n  - name: user\n    join_keys:\n      - {name: user_id, type: int64}\n    @colour: red\n", "unknown key 'colour'" },
        { "missing name", "entities:\n  - @join_keys:\n      - {name: user_id, type: int64}\n", "'name' is required" },
        { "bad type name", "entities:\n  - name: user\n    join_keys:\n      - {name: user_id, type: @int65}\n", "int65" },
        { "bad duration", Entities + Sources + "feature_views:\n  - name: v\n    entities: [user]\n    source: events\n    ttl: @3 fortnights\n    schema:\n      - {name: amount, type: float64}\n", "duration" },
        { "bad file format", Entities + "sources:\n  - name: s\n    type: file\n    path: x.parquet\n    format: @orc\n", "unknown format 'orc'" },
        { "unknown source type", Entities + "sources:\n  - name: s\n    type: @ftp\n", "unknown source type 'ftp'" },
        // names and references
        { "invalid name", "entities:\n  - name: @Bad-Name\n    join_keys:\n      - {name: user_id, type: int64}\n", "is not valid" },
        { "duplicate name", Entities + "  - name: @user\n    join_keys:\n      - {name: user_id, type: int64}\n", "duplicate entity name 'user'" },
        { "unknown entity", Entities + Sources + "feature_views:\n  - name: v\n    entities: [@usr]\n    source: events\n    schema:\n      - {name: amount, type: float64}\n", "unknown entity 'usr'" },
        { "unknown source", Entities + Sources + "feature_views:\n  - name: v\n    entities: [user]\n    source: @evnts\n    schema:\n      - {name: amount, type: float64}\n", "unknown source 'evnts'" },
        { "feature not in source", Entities + Sources + "feature_views:\n  - name: v\n    entities: [user]\n    source: events\n    schema:\n      - @{name: amont, type: float64}\n", "'amont' is not a column of source 'events'" },
        // types
        { "type mismatch with source", Entities + Sources + "feature_views:\n  - name: v\n    entities: [user]\n    source: events\n    schema:\n      - {name: amount, type: @int32}\n", "type mismatch: feature 'amount' is int32, but source 'events' declares it as float64" },
        { "join key of a bad type", "entities:\n  - name: user\n    join_keys:\n      - {name: user_id, type: @float64}\n", "a join key must be int32, int64, string or bytes" },
        { "negative ttl", Entities + Sources + "feature_views:\n  - name: v\n    entities: [user]\n    source: events\n    ttl: @-1h\n    schema:\n      - {name: amount, type: float64}\n", "'ttl': bad duration '-1h'" },
        // aggregations
        { "window not a multiple of its hop", Entities + Sources + "aggregation_views:\n  - name: a\n    entities: [user]\n    source: events\n    aggregations:\n      - {function: sum, column: amount, window: 90m, hop: @1h}\n", "is not a multiple of its hop" },
        { "function not valid for a type", Entities + Sources + "aggregation_views:\n  - name: a\n    entities: [user]\n    source: events\n    aggregations:\n      - {function: sum, column: @merchant, window: 1h}\n", "not valid for column 'merchant'" },
        { "unknown function", Entities + Sources + "aggregation_views:\n  - name: a\n    entities: [user]\n    source: events\n    aggregations:\n      - {function: @median, column: amount, window: 1h}\n", "median" },
        { "percentile out of range", Entities + Sources + "aggregation_views:\n  - name: a\n    entities: [user]\n    source: events\n    aggregations:\n      - {function: approx_percentile, column: amount, window: 1h, p: @1.5}\n", "p must be between 0 and 1" },
        { "last_n without k", Entities + Sources + "aggregation_views:\n  - name: a\n    entities: [user]\n    source: events\n    aggregations:\n      - @{function: last_n, column: amount, window: 1h}\n", "last_n needs 'k'" },
        { "two aggregations with one output name", Entities + Sources + "aggregation_views:\n  - name: a\n    entities: [user]\n    source: events\n    aggregations:\n      - {function: sum, column: amount, window: 1h}\n      - @{function: sum, column: amount, window: 1h}\n", "two aggregations produce the feature" },
        // on-demand views and services
        { "on-demand input of a wrong kind", Entities + Sources + "on_demand_views:\n  - name: o\n    inputs: [@events]\n    features:\n      - {name: x, type: float64, expression: bonus}\n", "inputs are request sources or views" },
        { "service naming a missing feature", Entities + Sources + "feature_views:\n  - name: v\n    entities: [user]\n    source: events\n    schema:\n      - {name: amount, type: float64}\nfeature_services:\n  - name: s\n    features: [@v:amout]\n", "has no feature 'amout'" },
        { "service naming a missing view", Entities + Sources + "feature_services:\n  - name: s\n    features: [@nope:x]\n", "unknown view 'nope'" },
        { "service listing a feature twice", Entities + Sources + "feature_views:\n  - name: v\n    entities: [user]\n    source: events\n    schema:\n      - {name: amount, type: float64}\nfeature_services:\n  - name: s\n    features: [v:amount, @v:amount]\n", "listed twice" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_error_names_the_problem_at_its_place(string name, string marked, string expected)
    {
        var (text, line, column) = Unmark(marked);

        var result = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("defs/repo.yaml", text)]);

        Assert.False(result.IsValid, $"{name}: the repo loaded without errors");
        var matching = result.Diagnostics.Where(d => d.Message.Contains(expected, StringComparison.Ordinal)).ToList();
        Assert.True(matching.Count > 0, $"{name}: no error says '{expected}'; got:\n{string.Join('\n', result.Diagnostics)}");
        Assert.Contains(matching, d => d.Position == new SourcePosition("defs/repo.yaml", line, column));
    }

    [Fact]
    public void Many_mistakes_are_all_reported_in_file_order()
    {
        var text = Entities + Sources + """
            feature_views:
              - name: v
                entities: [usr]
                source: evnts
                ttl: forever
                schema:
                  - {name: amount, type: int32}
            feature_services:
              - name: s
                features: [v:amout]

            """;

        var result = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", text)]);

        var messages = result.Diagnostics.Select(d => d.Message).ToList();
        Assert.Contains(messages, m => m.Contains("unknown entity 'usr'", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("unknown source 'evnts'", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("forever", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("no feature 'amout'", StringComparison.Ordinal));
        Assert.All(result.Diagnostics, d => Assert.NotNull(d.Position));
        var lines = result.Diagnostics.Select(d => d.Position!.Line).ToList();
        Assert.Equal(lines.Order(), lines);
    }

    [Fact]
    public void A_missing_required_key_is_reported_once()
    {
        var result = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", "entities:\n  - join_keys:\n      - {name: user_id, type: int64}\n")]);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("entity: 'name' is required", diagnostic.Message);
    }

    [Fact]
    public void Metadata_on_a_source_is_accepted_and_kept()
    {
        var text = Entities + """
            sources:
              - name: events
                type: file
                path: data/events.parquet
                description: raw card events
                owner: risk@example.com
                tags: {team: risk}

            """;

        var result = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", text)]);

        Assert.True(result.IsValid, string.Join('\n', result.Diagnostics));
        var source = Assert.Single(result.Value!.Sources);
        Assert.Equal("raw card events", source.Description);
        Assert.Equal("risk@example.com", source.Owner);
        Assert.Equal("risk", source.Tags["team"]);
    }

    [Fact]
    public void The_clean_base_repo_loads()
    {
        var result = RepoLoader.Load([new RepoFile("freshet.yaml", Config), new RepoFile("repo.yaml", Entities + Sources)]);

        Assert.True(result.IsValid, string.Join('\n', result.Diagnostics));
    }

    private static (string Text, int Line, int Column) Unmark(string marked)
    {
        var at = marked.IndexOf('@', StringComparison.Ordinal);
        Assert.True(at >= 0 && marked.IndexOf('@', at + 1) < 0, "a case needs exactly one '@' marker");
        var before = marked[..at];
        var line = before.Count(c => c == '\n') + 1;
        var column = at - (before.LastIndexOf('\n') + 1) + 1;
        return (before + marked[(at + 1)..], line, column);
    }
}
