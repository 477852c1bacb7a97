using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Freshet.Model;

namespace Freshet.Server.Tests;

/// <summary>
/// <c>GET /metrics</c> of a real server (docs/observability.md): the output passes <c>promtool check metrics</c>
/// (Debian package prometheus, installed by scripts/test.sh), carries the metric families the docs list, and the
/// freshness of a view moves while events stream in.
/// </summary>
public sealed class MetricsEndpointTests
{
    private static readonly TimeSpan Ceiling = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Metrics_pass_promtool_and_freshness_moves_while_events_stream_in()
    {
        await using var s = await ObservedServer.StartAsync("metrics_test", new ObservabilityConfig());

        // Some traffic, some of it failing.
        var start = DateTimeOffset.UtcNow;
        Assert.Equal(200, await s.PushAsync("a1", 10, start.AddSeconds(-30)));
        Assert.Equal(200, await s.PushAsync("a2", 5, start.AddDays(-3)));   // too late: a dead letter
        Assert.Equal(200, (await s.PostAsync("/get-online-features", """{"features": ["tx_stats:count_1h", "last_tx:amount"], "entities": {"account_id": ["a1", "zz"]}}""")).Status);
        Assert.Equal(200, (await s.PostAsync("/get-online-features", """{"features": ["tx_stats:count_1h"], "entities": {"account_id": ["a1"]}}""")).Status);
        Assert.Equal(400, (await s.PostAsync("/get-online-features", """{"features": [""")).Status);
        Assert.Equal(404, (await s.GetAsync("/no-such-path")).Status);

        // Freshness appears (the gauge reads the store in the background), then grows with time. Other tests' servers in
        // this process report their own projects' views on the same meter, so the project label picks this one.
        var first = await PollAsync(s, text => Freshness(text) is { } f ? f : null);
        Assert.InRange(first, 25, 30 + Ceiling.TotalSeconds);
        var older = await PollAsync(s, text => Freshness(text) is { } f && f > first + 1 ? f : null);

        // A new event makes the view fresh again: the gauge drops by about the 30 s the first event was old.
        Assert.Equal(200, await s.PushAsync("a1", 1, DateTimeOffset.UtcNow));
        var fresher = await PollAsync(s, text => Freshness(text) is { } f && f < older - 15 ? f : null);
        Assert.True(fresher >= 0, $"freshness {fresher} after an event of now");

        var (status, metrics) = await s.GetAsync("/metrics");
        Assert.Equal(200, status);
        var (exit, lint) = await PromtoolAsync(metrics);
        Assert.True(exit == 0 && lint.Trim().Length == 0, $"promtool check metrics exited {exit}:\n{lint}\n--- output checked ---\n{metrics}");

        // The families the docs list, with their labels.
        Assert.Matches(Family("freshet_request_duration_seconds_bucket", "endpoint=\"/get-online-features\"", "status=\"200\""), metrics);
        Assert.Matches(Family("freshet_request_duration_seconds_bucket", "endpoint=\"/get-online-features\"", "status=\"400\""), metrics);
        Assert.Matches(Family("freshet_online_store_duration_seconds_bucket", "tier=\"l1\"", "store=\"CachingOnlineStore\"", "operation=\"read\""), metrics);
        Assert.Matches(Family("freshet_online_store_duration_seconds_bucket", "tier=\"l2\"", "store=\"SwitchableStore\"", "operation=\"write_put\""), metrics);
        Assert.Matches(Family("freshet_online_store_hit_ratio", "tier=\"l1\"", "store=\"cache\""), metrics);
        Assert.Matches(Family("freshet_online_store_lookups_total", "tier=\"l2\""), metrics);
        Assert.Matches(Family("freshet_request_errors_total", "endpoint=\"/get-online-features\"", "code=\"bad_json\"", "status=\"400\""), metrics);
        Assert.Matches(Family("freshet_request_errors_total", "endpoint=\"unmatched\"", "code=\"http_404\"", "status=\"404\""), metrics);
        Assert.Matches(Family("freshet_ingest_events_total", "view=\"tx_stats\"", "path=\"push\"", "outcome=\"applied\""), metrics);
        Assert.Matches(Family("freshet_ingest_events_total", "view=\"tx_stats\"", "path=\"push\"", "outcome=\"rejected\""), metrics);
        Assert.Matches(Family("freshet_ingest_events_total", "view=\"last_tx\"", "path=\"push\"", "outcome=\"applied\""), metrics);
        Assert.Matches(Family("freshet_ingest_dead_letters_total", "view=\"tx_stats\"", "reason=\"too_late\""), metrics);
        Assert.Matches(Family("freshet_view_lag_seconds", "view=\"tx_stats\""), metrics);
        Assert.Matches(new Regex(@"^freshet_registry_version(\{[^}]*\})? 1$", RegexOptions.Multiline), metrics);
        Assert.Matches(Family("dotnet_process_cpu_time_seconds_total"), metrics);
        Assert.Matches(Family("dotnet_process_memory_working_set_bytes"), metrics);
        Assert.Matches(Family("dotnet_gc_collections_total"), metrics);
        Assert.Matches(new Regex(@"^# HELP freshet_view_freshness_seconds \S", RegexOptions.Multiline), metrics);

        // The hit ratio agrees with the tier statistics the store keeps.
        var ratio = Value(metrics, Family("freshet_online_store_hit_ratio", "tier=\"l1\""));
        Assert.InRange(ratio, 0, 1);
    }

    [Fact]
    public async Task Metrics_can_be_turned_off()
    {
        await using var s = await ObservedServer.StartAsync("metrics_off_test", new ObservabilityConfig { Metrics = false });

        Assert.Equal(404, (await s.GetAsync("/metrics")).Status);
        Assert.Equal(200, (await s.GetAsync("/health")).Status);
    }

    private static async Task<double> PollAsync(ObservedServer s, Func<string, double?> until)
    {
        var deadline = DateTime.UtcNow + Ceiling;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var (status, text) = await s.GetAsync("/metrics");
            Assert.Equal(200, status);
            last = text;
            if (until(text) is { } value)
            {
                return value;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"the condition did not hold within {Ceiling.TotalSeconds} s; last scrape:\n{last}");
        return 0;
    }

    private static double? Freshness(string metrics)
    {
        var m = Family("freshet_view_freshness_seconds", "project=\"metrics_test\"", "view=\"tx_stats\"").Match(metrics);
        return m.Success ? double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture) : null;
    }

    private static double Value(string metrics, Regex family)
    {
        var m = family.Match(metrics);
        Assert.True(m.Success, $"no {family} in\n{metrics}");
        return double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>A sample line of <paramref name="name"/> carrying every label given, in any order.</summary>
    private static Regex Family(string name, params string[] labels)
    {
        if (labels.Length == 0)
        {
            return new Regex($@"^{Regex.Escape(name)}(\{{[^}}]*\}})? (?<value>\S+)", RegexOptions.Multiline);
        }

        var lookaheads = string.Concat(labels.Select(l => $"(?=[^}}]*{Regex.Escape(l)})"));
        return new Regex($@"^{Regex.Escape(name)}\{{{lookaheads}[^}}]*\}} (?<value>\S+)", RegexOptions.Multiline);
    }

    internal static async Task<(int Exit, string Output)> PromtoolAsync(string metrics)
    {
        var start = new ProcessStartInfo("promtool", "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("promtool did not start (apt-get install prometheus; scripts/test.sh does)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(metrics);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
