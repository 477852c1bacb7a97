using System.Text.Json.Nodes;
using Freshet.Model;

namespace Freshet.Server.Tests;

/// <summary><c>GET /ready</c> and <c>GET /health</c> (docs/observability.md).</summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task Ready_when_the_registry_is_loaded_and_the_store_answers()
    {
        await using var s = await ObservedServer.StartAsync("ready_test", new ObservabilityConfig());

        var (status, body) = await s.GetAsync("/ready");

        Assert.Equal(200, status);
        var json = JsonNode.Parse(body)!;
        Assert.Equal("ready", json["status"]!.GetValue<string>());
        Assert.Empty(json["failing"]!.AsArray());
        Assert.Equal("ok", json["checks"]!["registry"]!["status"]!.GetValue<string>());
        Assert.Equal("ok", json["checks"]!["online_store"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Not_ready_while_the_store_is_unreachable_and_ready_again_after()
    {
        await using var s = await ObservedServer.StartAsync("unreachable_test", new ObservabilityConfig());

        // The cache in front remembers absent keys: the check must reach the store behind it.
        Assert.Equal(200, (await s.GetAsync("/ready")).Status);
        s.L2.Down = true;
        var (status, body) = await s.GetAsync("/ready");
        s.L2.Down = false;

        Assert.Equal(503, status);
        var json = JsonNode.Parse(body)!;
        Assert.Equal("unavailable", json["status"]!.GetValue<string>());
        Assert.Equal(["online_store"], json["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Contains("connection refused", json["checks"]!["online_store"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(200, (await s.GetAsync("/ready")).Status);
    }

    [Fact]
    public async Task Not_ready_before_any_apply_but_alive()
    {
        await using var s = await ObservedServer.StartAsync("empty_test", new ObservabilityConfig(), apply: false);

        var (status, body) = await s.GetAsync("/ready");
        var (healthStatus, health) = await s.GetAsync("/health");

        Assert.Equal(503, status);
        Assert.Equal(["registry"], JsonNode.Parse(body)!["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(200, healthStatus);
        Assert.Equal("ok", JsonNode.Parse(health)!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Health_stays_alive_while_the_store_is_down()
    {
        await using var s = await ObservedServer.StartAsync("alive_test", new ObservabilityConfig());
        s.L2.Down = true;

        var (status, _) = await s.GetAsync("/health");
        s.L2.Down = false;

        Assert.Equal(200, status);
    }
}
