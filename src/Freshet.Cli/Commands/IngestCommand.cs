using System.CommandLine;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;

namespace Freshet.Cli.Commands;

/// <summary><c>ingest --source NAME</c>: a stream processor for one Kafka or NATS source, until stopped.</summary>
internal static class IngestCommand
{
    /// <summary>How often an ingest run whose online store went away asks it again.</summary>
    private static readonly TimeSpan StoreRetryInterval = TimeSpan.FromMilliseconds(100);

    public static Command Create(Func<ParseResult, CliContext> context)
    {
        var source = new Option<string>("--source") { Description = "The Kafka or NATS source to consume", Required = true };
        var batch = new Option<int>("--max-batch") { Description = "Events per atomic commit (default 1000)", DefaultValueFactory = _ => 1000 };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Serve GET /metrics, /health and /ready on this port while ingesting (0 picks a free one)" };
        var metricsHost = new Option<string>("--metrics-host") { Description = "The address the metrics port binds (default 127.0.0.1)", DefaultValueFactory = _ => "127.0.0.1" };
        var idle = new Option<string?>("--exit-when-idle") { Description = "Stop after no event has come for this long while the source holds partitions (e.g. 5s): a catch-up run" };
        var command = new Command("ingest", "Consume a Kafka or NATS source into the views that read it (exactly-once effect), until Ctrl+C");
        command.Options.Add(source);
        command.Options.Add(batch);
        command.Options.Add(idle);
        command.Options.Add(metricsPort);
        command.Options.Add(metricsHost);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, registry, code) = ctx.OpenRegistry();
            if (config is null || registry is null)
            {
                return code;
            }

            var name = r.GetValue(source)!;
            TimeSpan? exitWhenIdle = null;
            if (r.GetValue(idle) is { } text)
            {
                if (!Durations.TryParse(text, out var d, out var error) || d <= TimeSpan.Zero)
                {
                    return ctx.Fail($"--exit-when-idle '{text}': {error ?? "must be longer than 0"}");
                }

                exitWhenIdle = d;
            }

            if (r.GetValue(batch) < 1)
            {
                return ctx.Fail("--max-batch must be at least 1");
            }

            if (r.GetValue(metricsPort) is < 0 or > 65535)
            {
                return ctx.Fail($"--metrics-port {r.GetValue(metricsPort)}: must be from 0 to 65535");
            }

            await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct);
            var definition = Hosting.StreamSource(store, name);
            await using var telemetry = r.GetValue(metricsPort) is { } port ? await StartTelemetryAsync(ctx, store, r.GetValue(metricsHost)!, port, ct) : null;
            ctx.Out.WriteLine($"Ingesting source '{name}' into project '{config.Project}' (registry version {store.Registry.Version}). Ctrl+C stops.");
            await ctx.Out.FlushAsync(ct);
            var processed = await RunResumingAsync(ctx, store, definition, r.GetValue(batch), exitWhenIdle, ct);
            ctx.Out.WriteLine($"Stopped after {processed} event{(processed == 1 ? "" : "s")}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// Runs a stream processor for <paramref name="definition"/> until cancelled (or idle, with
    /// <paramref name="exitWhenIdle"/>). A run that loses its online store (Redis down or restarting) starts again as a
    /// new process would: nothing past the last commit was acknowledged to the broker, so the new run resumes from the
    /// stored positions and applies every event once (docs/online-store.md, "Failure behaviour"). Returns the events
    /// processed by runs that ended normally.
    /// </summary>
    internal static async Task<long> RunResumingAsync(CliContext ctx, Serving.FeatureStore store, DataSource definition, int maxBatch, TimeSpan? exitWhenIdle, CancellationToken ct)
    {
        long processed = 0;
        while (!ct.IsCancellationRequested)
        {
            var processor = new StreamProcessor(store, definition.Name, Hosting.DeadLetters(store));
            try
            {
                await using var events = Hosting.OpenEventSource(definition, processor.ResumeFrom);
                processed += await processor.RunAsync(events, maxBatch, exitWhenIdle, ct);
                break;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (OnlineStoreUnavailableException e)
            {
                await ctx.Err.WriteLineAsync($"warning: ingest '{definition.Name}': {e.Message}; events after the last commit are not acknowledged and will be applied when it answers");
                if (!await WaitForStoreAsync(store, ct))
                {
                    break;
                }

                await ctx.Err.WriteLineAsync($"Ingest '{definition.Name}': the online store answers again; resuming from the stored positions.");
            }
        }

        return processed;
    }

    /// <summary>Reads a key that cannot exist every <see cref="StoreRetryInterval"/> until the store answers; false when cancelled first.</summary>
    private static async Task<bool> WaitForStoreAsync(Serving.FeatureStore store, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                await Task.Delay(StoreRetryInterval, ct);
                await store.Online.ReadAsync([new OnlineKey("\u0001ready", [])], new byte[]?[1], ct);
                return true;
            }
            catch (OnlineStoreUnavailableException)
            {
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return false;
            }
        }
    }

    private static async Task<Server.RunningServer> StartTelemetryAsync(CliContext ctx, Serving.FeatureStore store, string host, int port, CancellationToken ct)
    {
        try
        {
            var server = await Server.TelemetryServer.StartAsync(store, host, port, ct);
            ctx.Out.WriteLine($"Metrics on http://{host}:{server.HttpPort}/metrics");
            return server;
        }
        catch (Exception e) when (e is ArgumentException or IOException)
        {
            throw new CliException($"--metrics-port {port}: {e.Message}");
        }
    }
}
