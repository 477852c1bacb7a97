using System.Diagnostics;
using System.Globalization;
using System.Text;
using Freshet.Governance;
using Freshet.Server;

namespace Freshet.Benchmarks;

/// <summary>
/// The cost of the audit trail on the push path (<c>-- audit-push [rounds] [seconds] [clients]</c>): one embedded
/// RocksDB store served by two in-process servers on 127.0.0.1, one without an audit log and one with a
/// <see cref="FileAuditLog"/> (a record flushed to disk before each push is answered). Rounds alternate between them
/// in one process; each round, <c>clients</c> keep-alive clients push one row at a time for <c>seconds</c>.
/// Prints pushes/s and p50/p99 latency per round and the medians.
/// </summary>
internal static class AuditPushProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 6;
        var seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        var clients = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 16;
        string? directory = null;
        var store = await StreamingScenario.OpenAsync(StreamingScenario.OpenOnline("rocksdb", ref directory));
        var auditDir = Directory.CreateTempSubdirectory("freshet-audit-bench-").FullName;
        var log = new FileAuditLog(auditDir);
        var plain = await FreshetServer.StartAsync(store, new FreshetServerOptions { Port = 0, GrpcPort = -1 });
        var audited = await FreshetServer.StartAsync(store, new FreshetServerOptions { Port = 0, GrpcPort = -1, AuditLog = log });
        try
        {
            var results = new Dictionary<string, List<(double Rate, double P50, double P99)>> { ["no audit"] = [], ["audit"] = [] };
            for (var round = -1; round < rounds; round++)
            {
                foreach (var (name, server) in new[] { ("no audit", plain), ("audit", audited) })
                {
                    var r = await RoundAsync(server.HttpPort, round < 0 ? 1 : seconds, clients);
                    if (round >= 0)
                    {
                        results[name].Add(r);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} {name,-9} {r.Rate,8:0} pushes/s  p50 {r.P50,7:0.00} ms  p99 {r.P99,7:0.00} ms"));
                    }
                }
            }

            double Median(IEnumerable<double> xs)
            {
                var s = xs.Order().ToList();
                return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
            }

            var verified = await log.VerifyAsync();
            var a = results["audit"];
            var n = results["no audit"];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"median: no audit {Median(n.Select(x => x.Rate)):0} pushes/s p50 {Median(n.Select(x => x.P50)):0.00} ms p99 {Median(n.Select(x => x.P99)):0.00} ms; " +
                $"audit {Median(a.Select(x => x.Rate)):0} pushes/s p50 {Median(a.Select(x => x.P50)):0.00} ms p99 {Median(a.Select(x => x.P99)):0.00} ms; " +
                $"throughput audit/no audit {Median(a.Select(x => x.Rate)) / Median(n.Select(x => x.Rate)):0.00}; records {verified.Count} (chain valid: {verified.IsValid}) in {log.Batches} batches"));
            return 0;
        }
        finally
        {
            await plain.DisposeAsync();
            await audited.DisposeAsync();
            await log.DisposeAsync();
            await store.DisposeAsync();
            Directory.Delete(auditDir, recursive: true);
            if (directory is not null)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static async Task<(double Rate, double P50, double P99)> RoundAsync(int port, double seconds, int clients)
    {
        var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var latencies = new List<double>[clients];
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var mine = latencies[c] = [];
            var i = 0;
            while (Stopwatch.GetTimestamp() < until)
            {
                var ts = DateTimeOffset.UtcNow.AddMilliseconds(-1).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture);
                var body = $$"""{"push_source_name": "tx", "df": {"account_id": ["acct{{c}}-{{i++ % 1000}}"], "amount": [1.5], "ts": ["{{ts}}"]}, "to": "online"}""";
                var start = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync("/push", new StringContent(body, Encoding.UTF8, "application/json"));
                response.EnsureSuccessStatusCode();
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        var all = latencies.SelectMany(l => l).Order().ToList();
        return (all.Count / seconds, all[all.Count / 2], all[Math.Min(all.Count - 1, (int)(all.Count * 0.99))]);
    }
}
