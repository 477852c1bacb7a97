using Freshet.Definitions;
using Freshet.Expressions;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Core.Tests;

public sealed class ExpressionValidationTests
{
    private const string Definitions = """
        entities:
          - name: account
            join_keys:
              - {name: account_id, type: string}
        sources:
          - name: req
            type: request
            schema:
              - {name: amount, type: float64}
              - {name: country, type: string}
          - name: profile_file
            type: file
            path: data/profile.parquet
            timestamp_field: ts
        feature_views:
          - name: profile
            entities: [account]
            source: profile_file
            schema:
              - {name: credit_limit, type: float64}
        on_demand_views:
          - name: checks
            inputs: [req, profile]
            features:
              - name: plain
                type: float64
                expression: amount / credit_limt
              - name: quoted
                type: float64
                expression: "amount * 2 + country"
              - {name: flow, type: bool, expression: 'country == "US" and amout > 1'}
              - name: block
                type: float64
                expression: |
                  coalesce(amount,
                    credit_limit, nope)
              - name: typed
                type: int64
                expression: amount
              - name: syntax
                type: float64
                expression: (amount + 1
              - name: ok
                type: float64
                expression: amount / coalesce(profile.credit_limit, 1)
        """;

    private static readonly string[] Lines = Definitions.Split('\n');

    /// <summary>The 1-based line and column of the first <paramref name="needle"/> on the line that ends with <paramref name="marker"/>.</summary>
    private static (int Line, int Column) Where(string marker, string needle)
    {
        var line = Array.FindIndex(Lines, l => l.TrimEnd().EndsWith(marker, StringComparison.Ordinal));
        return (line + 1, Lines[line].IndexOf(needle, StringComparison.Ordinal) + 1);
    }

    private static IReadOnlyList<Diagnostic> Load() =>
        RepoLoader.Load([new RepoFile("freshet.yaml", "project: p\n"), new RepoFile("features/odv.yaml", Definitions)]).Diagnostics;

    private static Diagnostic Find(IReadOnlyList<Diagnostic> all, string text) =>
        Assert.Single(all, d => d.Message.Contains(text, StringComparison.Ordinal));

    [Fact]
    public void Every_bad_expression_is_reported_at_its_line_and_column_in_the_yaml()
    {
        var all = Load();
        Assert.Equal(6, all.Count);
        Assert.All(all, d => Assert.Equal("features/odv.yaml", d.Position?.File));

        var plain = Find(all, "credit_limt");
        Assert.Equal("on-demand view 'checks': feature 'plain': unknown input 'credit_limt'; did you mean 'credit_limit'?", plain.Message);
        Assert.Equal((27, 30), (plain.Position!.Line, plain.Position.Column));
        Assert.Equal(Where("credit_limt", "credit_limt"), (plain.Position.Line, plain.Position.Column));

        var quoted = Find(all, "'+' needs numbers");
        Assert.Equal(Where("+ country\"", "+"), (quoted.Position!.Line, quoted.Position.Column));

        var flow = Find(all, "'amout'");
        Assert.Equal(Where("amout > 1'}", "amout"), (flow.Position!.Line, flow.Position.Column));

        var block = Find(all, "'nope'");
        Assert.Equal(Where("credit_limit, nope)", "nope"), (block.Position!.Line, block.Position.Column));

        var typed = Find(all, "declared int64");
        Assert.Equal("on-demand view 'checks': feature 'typed': the expression gives float64, but the feature is declared int64; declare the feature float64 (an integer feature takes only integer results)", typed.Message);
        Assert.Equal(Where("expression: amount", "amount"), (typed.Position!.Line, typed.Position.Column));

        var syntax = Find(all, "unclosed '('");
        Assert.Equal(Where("(amount + 1", "("), (syntax.Position!.Line, syntax.Position.Column));
        Assert.StartsWith($"features/odv.yaml:{syntax.Position.Line}:{syntax.Position.Column}: error: on-demand view 'checks'", syntax.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Definitions_built_in_code_report_by_model_path_with_the_place_in_the_expression()
    {
        var result = new RepoBuilder("p")
            .Add(new RequestSource("req") { Schema = [new Field("amount", FeatureType.Of(ScalarKind.Float64))] })
            .Add(new OnDemandView("odv", ["req"], [
                new OnDemandFeature("ok", FeatureType.Of(ScalarKind.Float64), "amount * 2"),
                new OnDemandFeature("bad", FeatureType.Of(ScalarKind.Float64), "amount + amont"),
            ]))
            .Build();
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("on_demand_views[0].features[1].expression", d.Path);
        Assert.Null(d.Position);
        Assert.Equal("on-demand view 'odv': feature 'bad': unknown input 'amont' at 1:10; did you mean 'amount'?", d.Message);
    }

    [Fact]
    public void An_unknown_input_is_reported_once_not_again_for_each_name_it_would_have_given()
    {
        var result = new RepoBuilder("p")
            .Add(new RequestSource("req") { Schema = [new Field("amount", FeatureType.Of(ScalarKind.Float64))] })
            .Add(new OnDemandView("odv", ["req", "stats"], [new OnDemandFeature("r", FeatureType.Of(ScalarKind.Float64), "amount / mean_7d")]))
            .Build();
        var d = Assert.Single(result.Diagnostics);
        Assert.Contains("unknown input 'stats'", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scope_built_from_a_view_compiles_and_evaluates_its_features()
    {
        var repo = RepoLoader.Load([new RepoFile("freshet.yaml", "project: p\n"), new RepoFile("odv.yaml", Definitions)]).Value;
        Assert.Null(repo);

        var good = new RepoBuilder("p")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new RequestSource("req") { Schema = [new Field("amount", FeatureType.Of(ScalarKind.Float64)), new Field("country", FeatureType.Of(ScalarKind.String))] })
            .Add(new FileSource("profile_file", "p.parquet") { TimestampField = "ts" })
            .Add(new FeatureView("profile", ["account"], "profile_file", [new Field("credit_limit", FeatureType.Of(ScalarKind.Float64))]))
            .Add(new OnDemandView("ratio", ["req", "profile"], [new OnDemandFeature("r", FeatureType.Of(ScalarKind.Float64), "amount / coalesce(profile.credit_limit, 1)")]))
            .Build()
            .GetValueOrThrow();
        var index = new RepoIndex(good);
        var view = good.OnDemandViews[0];
        var scope = ExpressionScope.ForView(view, index);
        Assert.Equal(["req.amount", "req.country", "profile.credit_limit"], scope.Inputs.Select(i => i.QualifiedName));

        var c = ExpressionCompiler.CompileOrThrow(view.Features[0].Expression, scope, view.Features[0].Type);
        Assert.Equal([0, 2], c.Slots);
        var values = new SlotValues([FeatureValue.FromFloat64(30), FeatureValue.Null, FeatureValue.FromFloat64(120)]);
        Assert.Equal(0.25, c.Evaluate(values).AsFloat64());
        values.Values[2] = FeatureValue.Null;
        Assert.Equal(30, c.Evaluate(values).AsFloat64());
    }
}
