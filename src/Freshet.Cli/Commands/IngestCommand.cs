using System.CommandLine;
using Freshet.Ingestion;
using Freshet.Model;

namespace Freshet.Cli.Commands;

/// <summary><c>ingest --source NAME</c>: a stream processor for one Kafka or NATS source, until stopped.</summary>
internal static class IngestCommand
{
    public static Command Create(Func<ParseResult, CliContext> context)
    {
        var source = new Option<string>("--source") { Description = "The Kafka or NATS source to consume", Required = true };
        var batch = new Option<int>("--max-batch") { Description = "Events per atomic commit (default 1000)", DefaultValueFactory = _ => 1000 };
        var idle = new Option<string?>("--exit-when-idle") { Description = "Stop after no event has come for this long while the source holds partitions (e.g. 5s): a catch-up run" };
        var command = new Command("ingest", "Consume a Kafka or NATS source into the views that read it (exactly-once effect), until Ctrl+C");
        command.Options.Add(source);
        command.Options.Add(batch);
        command.Options.Add(idle);
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

            await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct);
            var definition = Hosting.StreamSource(store, name);
            var processor = new StreamProcessor(store, name, Hosting.DeadLetters(store));
            await using var events = Hosting.OpenEventSource(definition, processor.ResumeFrom);
            ctx.Out.WriteLine($"Ingesting source '{name}' into project '{config.Project}' (registry version {store.Registry.Version}). Ctrl+C stops.");
            await ctx.Out.FlushAsync(ct);
            long processed = 0;
            try
            {
                processed = await processor.RunAsync(events, r.GetValue(batch), exitWhenIdle, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }

            ctx.Out.WriteLine($"Stopped after {processed} event{(processed == 1 ? "" : "s")}.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
