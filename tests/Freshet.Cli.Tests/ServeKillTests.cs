using System.Globalization;
using System.Text.Json.Nodes;

namespace Freshet.Cli.Tests;

/// <summary>
/// Writes acknowledged by `freshet serve` over the embedded store survive a SIGKILL of the server: after a
/// restart, every acknowledged row is served.
/// </summary>
public sealed class ServeKillTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public async Task Acknowledged_pushes_survive_a_sigkill_of_the_server()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var random = new Random(20261129);
        var acknowledged = new Dictionary<long, float>();
        var now = DateTimeOffset.UtcNow;
        long nextId = 0;

        for (var round = 0; round < 3; round++)
        {
            await using (var server = await ServerProcess.StartAsync(_repo.Dir))
            {
                // Pushes go out back to back while the kill lands at a random moment; only answered pushes count.
                var sizes = new Random(round);
                var firstAck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var pushing = Task.Run(async () =>
                {
                    while (true)
                    {
                        var ids = Enumerable.Range(0, sizes.Next(1, 20)).Select(_ => Interlocked.Increment(ref nextId)).ToList();
                        var rates = ids.ToDictionary(id => id, id => (float)((id * 7919 % 1000) / 1000.0 + round));
                        int status;
                        try
                        {
                            (status, _) = await server.PostAsync("/push", PushBody(ids, rates, now.AddSeconds(round)));
                        }
                        catch (HttpRequestException)
                        {
                            return;
                        }

                        Assert.Equal(200, status);
                        lock (acknowledged)
                        {
                            foreach (var (id, rate) in rates)
                            {
                                acknowledged[id] = rate;
                            }
                        }

                        firstAck.TrySetResult();
                    }
                });
                // The kill lands at a random moment after the first answered push: on a loaded machine the first
                // push can take longer than the whole random delay, and a round without acks would prove nothing.
                await firstAck.Task.WaitAsync(TimeSpan.FromSeconds(90));
                await Task.Delay(random.Next(300, 1500));
                await server.KillAsync();
                await pushing;
            }

            await using var restarted = await ServerProcess.StartAsync(_repo.Dir);
            var all = acknowledged.Keys.Order().ToList();
            foreach (var chunk in all.Chunk(5000))
            {
                var request = new JsonObject
                {
                    ["features"] = new JsonArray("driver_hourly_stats_fresh:conv_rate"),
                    ["entities"] = new JsonObject { ["driver_id"] = new JsonArray([.. chunk.Select(id => (JsonNode)id)]) },
                };
                var (code, read) = await restarted.PostAsync("/get-online-features", request.ToJsonString());
                Assert.True(code == 200, read?.ToJsonString());
                var result = read!["results"]![1]!;
                for (var i = 0; i < chunk.Length; i++)
                {
                    Assert.Equal("PRESENT", result["statuses"]![i]!.GetValue<string>());
                    Assert.Equal(acknowledged[chunk[i]], result["values"]![i]!.GetValue<float>());
                }
            }
        }

        Assert.True(acknowledged.Count >= 60, $"only {acknowledged.Count} rows were acknowledged");
    }

    private static string PushBody(List<long> ids, Dictionary<long, float> rates, DateTimeOffset at)
    {
        var ts = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        var json = new JsonObject
        {
            ["push_source_name"] = "driver_stats_push_source",
            ["to"] = "online",
            ["df"] = new JsonObject
            {
                ["driver_id"] = new JsonArray([.. ids.Select(id => (JsonNode)id)]),
                ["conv_rate"] = new JsonArray([.. ids.Select(id => (JsonNode)rates[id])]),
                ["acc_rate"] = new JsonArray([.. ids.Select(_ => (JsonNode)0.5)]),
                ["avg_daily_trips"] = new JsonArray([.. ids.Select(id => (JsonNode)(int)(id % 100))]),
                ["event_timestamp"] = new JsonArray([.. ids.Select(_ => (JsonNode)ts)]),
                ["created"] = new JsonArray([.. ids.Select(_ => (JsonNode)ts)]),
            },
        };
        return json.ToJsonString();
    }
}
