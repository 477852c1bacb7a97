using System.Globalization;
using System.Text.Json.Nodes;

namespace Freshet.Cli.Tests;

/// <summary>
/// Reads the fraud template's features from a running <c>freshet serve</c> with Feast's <c>POST /get-online-features</c>
/// and lists every served value that differs from brute force over the events sent.
/// </summary>
internal static class FraudServing
{
    /// <summary>
    /// Reads feature service <c>fraud_model_v3</c> (full feature names) for each (account, merchant, request amount) row,
    /// and <c>merchant_txn_stats</c>'s two features per merchant; returns the mismatches, empty when all match. The
    /// server reads at some instant between the clock before the request and after the response: a value must equal
    /// brute force at one of the two (only a window's edge moving by a hop can separate them).
    /// </summary>
    public static async Task<List<string>> MismatchesAsync(ServerProcess server, IReadOnlyList<Txn> txns, IReadOnlyList<(string Account, string Merchant, double RequestAmount)> rows)
    {
        var request = new JsonObject
        {
            ["feature_service"] = "fraud_model_v3",
            ["full_feature_names"] = true,
            ["entities"] = new JsonObject
            {
                ["account_id"] = new JsonArray([.. rows.Select(r => (JsonNode)r.Account)]),
                ["merchant_id"] = new JsonArray([.. rows.Select(r => (JsonNode)r.Merchant)]),
                ["request_amount"] = new JsonArray([.. rows.Select(r => (JsonNode)r.RequestAmount)]),
            },
        };
        var before = Now();
        var (status, body) = await server.PostAsync("/get-online-features", request.ToJsonString());
        var after = Now();
        if (status != 200)
        {
            return [$"get-online-features answered {status}: {body?.ToJsonString()}"];
        }

        var problems = new List<string>();
        var columns = Columns(body!);
        for (var i = 0; i < rows.Count; i++)
        {
            var (account, merchant, amount) = rows[i];
            var mine = txns.Where(t => t.Account == account).ToList();
            var (early, late) = (FraudBruteForce.Account(mine, before), FraudBruteForce.Account(mine, after));
            foreach (var feature in early.Keys)
            {
                Check(problems, columns, $"account_txn_stats__{feature}", i, account, early[feature], late[feature]);
            }

            // The on-demand feature divides the request's amount by the served 7-day mean.
            Check(problems, columns, "amount_vs_avg__amount_ratio_7d", i, account, amount / (double?)early["amount_mean_7d"], amount / (double?)late["amount_mean_7d"]);
            var theirs = txns.Where(t => t.Merchant == merchant).ToList();
            Check(problems, columns, "merchant_txn_stats__count_1h", i, merchant, FraudBruteForce.Merchant(theirs, before)["count_1h"], FraudBruteForce.Merchant(theirs, after)["count_1h"]);
        }

        var merchants = rows.Select(r => r.Merchant).Distinct().ToList();
        before = Now();
        (status, body) = await server.PostAsync("/get-online-features", new JsonObject
        {
            ["features"] = new JsonArray("merchant_txn_stats:count_1h", "merchant_txn_stats:amount_stddev_1d"),
            ["entities"] = new JsonObject { ["merchant_id"] = new JsonArray([.. merchants.Select(m => (JsonNode)m)]) },
        }.ToJsonString());
        after = Now();
        if (status != 200)
        {
            return [.. problems, $"get-online-features answered {status}: {body?.ToJsonString()}"];
        }

        columns = Columns(body!);
        for (var i = 0; i < merchants.Count; i++)
        {
            var theirs = txns.Where(t => t.Merchant == merchants[i]).ToList();
            var (early, late) = (FraudBruteForce.Merchant(theirs, before), FraudBruteForce.Merchant(theirs, after));
            foreach (var feature in early.Keys)
            {
                Check(problems, columns, feature, i, merchants[i], early[feature], late[feature]);
            }
        }

        return problems;
    }

    private static long Now() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks / 10;

    private static Dictionary<string, JsonNode> Columns(JsonNode body)
    {
        var names = body["metadata"]!["feature_names"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        var results = body["results"]!.AsArray();
        Assert.Equal(names.Count, results.Count);
        return names.Select((n, i) => (n, results[i]!)).ToDictionary(p => p.n, p => p.Item2, StringComparer.Ordinal);
    }

    private static void Check(List<string> problems, Dictionary<string, JsonNode> columns, string name, int row, string entity, object? early, object? late)
    {
        if (!columns.TryGetValue(name, out var column))
        {
            problems.Add($"{name}: not in the response ({string.Join(", ", columns.Keys)})");
            return;
        }

        var value = column["values"]![row];
        var status = column["statuses"]![row]!.GetValue<string>();
        var problem = FraudBruteForce.Mismatch(name, early, value, status);
        if (problem is not null && FraudBruteForce.Mismatch(name, late, value, status) is not null)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{entity} {name}: {problem}"));
        }
    }
}
