using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Freshet.Postgres.Tests;

namespace Freshet.Cli.Tests;

/// <summary>
/// The quickstart repo, unchanged but for its freshet.yaml, with the registry and the online store in a real
/// PostgreSQL (started by the fixture): init, apply, materialize, serve and a Feast request; a running server
/// follows an apply; two concurrent applies of different changes lose neither.
/// </summary>
public sealed partial class PostgresRepoTests(PostgresServer server) : IClassFixture<PostgresServer>, IDisposable
{
    private readonly List<TempRepo> _repos = [];

    public void Dispose()
    {
        foreach (var repo in _repos)
        {
            repo.Dispose();
        }
    }

    [GeneratedRegex(@"online_store:\n  type: rocksdb[^\n]*\n")]
    private static partial Regex OnlineStoreBlock();

    [GeneratedRegex(@"registry:\n  type: file[^\n]*\n")]
    private static partial Regex RegistryBlock();

    /// <summary>A quickstart repo whose freshet.yaml names PostgreSQL for the registry (and the online store when asked).</summary>
    private async Task<TempRepo> Quickstart(string connectionString, bool onlineInPostgres)
    {
        var repo = new TempRepo();
        _repos.Add(repo);
        await repo.InitQuickstart();
        var yaml = repo.Read("freshet.yaml");
        var quoted = $"\"{connectionString}\"";
        var changed = RegistryBlock().Replace(yaml, $"registry:\n  type: postgres\n  connection_string: {quoted}\n");
        if (onlineInPostgres)
        {
            changed = OnlineStoreBlock().Replace(changed, $"online_store:\n  type: postgres\n  connection_string: {quoted}\n");
        }

        Assert.NotEqual(yaml, changed);
        repo.Write("freshet.yaml", changed);
        return repo;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_quickstart_applies_materializes_and_serves_with_its_registry_in_postgres(bool onlineInPostgres)
    {
        var cs = server.CreateDatabase();
        var repo = await Quickstart(cs, onlineInPostgres);

        var apply = await repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        Assert.Contains("Applied: registry version 1.", apply.Out, StringComparison.Ordinal);
        Assert.False(File.Exists(repo.RegistryFile), "the file registry was written although freshet.yaml names postgres");

        var expected = QuickstartServingTests.LatestPerDriver(Path.Combine(repo.Dir, "data", "driver_stats.parquet"));
        var materialize = await repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats", "--json");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        Assert.Equal(expected.Count, Assert.Single(materialize.Json()["views"]!.AsArray())!["rows"]!.GetValue<long>());
        Assert.Equal(onlineInPostgres, !Directory.Exists(Path.Combine(repo.Dir, "data", "online")));

        await using var serve = await ServerProcess.StartAsync(repo.Dir);
        var ids = expected.Keys.Order().ToList();
        var request = new JsonObject
        {
            ["features"] = new JsonArray("driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"),
            ["entities"] = new JsonObject { ["driver_id"] = new JsonArray([.. ids.Select(id => (JsonNode)id), 9999]) },
        };
        var (status, body) = await serve.PostAsync("/get-online-features", request.ToJsonString());
        Assert.True(status == 200, body?.ToJsonString());
        var results = body!["results"]!.AsArray();
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(expected[ids[i]].ConvRate, results[1]!["values"]![i]!.GetValue<float>());
            Assert.Equal(expected[ids[i]].AvgDailyTrips, results[2]!["values"]![i]!.GetValue<int>());
            Assert.Equal("PRESENT", results[1]!["statuses"]![i]!.GetValue<string>());
        }

        Assert.Equal("NOT_FOUND", results[1]!["statuses"]![ids.Count]!.GetValue<string>());

        // The running server follows the PostgreSQL registry: a service applied now becomes servable.
        repo.Write("driver_repo.yaml", repo.Read("driver_repo.yaml") + "\n  - name: conv_only\n    features:\n      - driver_hourly_stats:conv_rate\n");
        var second = await repo.Freshet("apply");
        Assert.True(second.ExitCode == 0, second.ToString());
        var byService = new JsonObject { ["feature_service"] = "conv_only", ["entities"] = new JsonObject { ["driver_id"] = new JsonArray(ids[0]) } }.ToJsonString();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            (status, body) = await serve.PostAsync("/get-online-features", byService);
            if (status == 200 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.True(status == 200, body?.ToJsonString());
        Assert.Equal(expected[ids[0]].ConvRate, body!["results"]![1]!["values"]![0]!.GetValue<float>());
    }

    [Fact]
    public async Task Two_concurrent_applies_of_different_changes_both_land_or_the_second_is_refused_and_lands_on_rerun()
    {
        var cs = server.CreateDatabase();
        var a = await Quickstart(cs, onlineInPostgres: true);
        var b = await Quickstart(cs, onlineInPostgres: true);
        var first = await a.Freshet("apply");
        Assert.True(first.ExitCode == 0, first.ToString());

        // a changes a view's owner; b adds a service. Both start from version 1.
        a.Write("driver_repo.yaml", a.Read("driver_repo.yaml").Replace("owner: ml-platform@example.com", "owner: a-team@example.com", StringComparison.Ordinal));
        b.Write("driver_repo.yaml", b.Read("driver_repo.yaml") + "\n  - name: from_b\n    features:\n      - driver_hourly_stats:acc_rate\n");
        var results = await Task.WhenAll(Task.Run(() => a.Freshet("apply")), Task.Run(() => b.Freshet("apply")));

        foreach (var (r, repo) in results.Zip([a, b]))
        {
            if (r.ExitCode == 3)
            {
                // The loser is told plainly, changed nothing, and lands when run again.
                Assert.Contains("error: the registry changed while this change was planned: expected version 1, found 2; plan again and re-apply", r.Err, StringComparison.Ordinal);
                var rerun = await repo.Freshet("apply");
                Assert.True(rerun.ExitCode == 0, rerun.ToString());
            }
            else
            {
                Assert.True(r.ExitCode == 0, r.ToString());
            }
        }

        // Two versions were made on top of version 1, one per change, and the history holds both changes.
        await using var registry = new Freshet.Postgres.PostgresRegistryStore(cs, Regex.Match(a.Read("freshet.yaml"), @"project: (\S+)").Groups[1].Value);
        var state = (await registry.LoadAsync())!;
        Assert.Equal(3, state.Version);
        var history = state.Find(Freshet.Model.ObjectKind.FeatureView, "driver_hourly_stats")!.History;
        Assert.Contains(history, h => h.Spec?["owner"]?.GetValue<string>() == "a-team@example.com");
        var service = state.Find(Freshet.Model.ObjectKind.FeatureService, "from_b");
        Assert.NotNull(service);
        Assert.Equal(Freshet.Registry.ChangeType.Create, service.History[0].Change);

        // Apply is declarative: the later apply makes the registry match its own files, so whichever ran last
        // undid the other's edit in a new version (it showed that in its plan); neither edit vanished unseen.
        Assert.Contains(history, h => h.Spec?["owner"]?.GetValue<string>() == "ml-platform@example.com");
    }

    [Fact]
    public async Task An_unreachable_registry_server_is_one_line_naming_host_port_and_database()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var repo = await Quickstart($"Host=127.0.0.1;Port={port};Database=teams;Username=u;Password=secret;Timeout=5", onlineInPostgres: false);

        var plan = await repo.Freshet("plan");

        Assert.Equal(1, plan.ExitCode);
        var line = Assert.Single(plan.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: cannot connect to PostgreSQL at 127.0.0.1:{port}/teams: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_credentials_and_a_missing_connection_string_are_one_line_errors()
    {
        var cs = server.CreateDatabase();
        var repo = await Quickstart(cs.Replace(PostgresServer.Password, "wrong", StringComparison.Ordinal), onlineInPostgres: false);

        var plan = await repo.Freshet("plan");

        Assert.Equal(1, plan.ExitCode);
        var line = Assert.Single(plan.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: cannot connect to PostgreSQL at 127.0.0.1:{server.Port}/", line, StringComparison.Ordinal);
        Assert.Contains("password authentication failed", line, StringComparison.Ordinal);

        repo.Write("freshet.yaml", Regex.Replace(repo.Read("freshet.yaml"), "  connection_string: [^\n]*\n", ""));
        plan = await repo.Freshet("plan");
        Assert.Equal(1, plan.ExitCode);
        Assert.Contains("error: freshet.yaml: registry: type postgres needs connection_string", plan.Err, StringComparison.Ordinal);
    }
}
